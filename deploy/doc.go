// Package deploy holds the deployment files: the Dockerfile, the compose
// file, Kubernetes manifests, nginx configuration and the local cluster
// scripts. It has no code; its tests parse every file and keep them in step
// with each other and with the binary's roles.
package deploy
