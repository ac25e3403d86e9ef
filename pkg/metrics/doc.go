// Package metrics owns feedbackd's Prometheus registry and every collector in
// it, each declared once here. Other packages record through the small
// functions of this package (HTTPStarted, WaitStarted, WSConnected, ...) and
// never touch a collector; cmd wires Sessions into the sessions service and
// TrackNATS onto the NATS connection. Handler serves the registry.
//
// Labels are bounded by construction: HTTP routes are route patterns, never
// raw paths, and no label ever holds a session id, a principal or a
// credential.
//
// It knows nothing of the domain: Sessions matches sessions.Observer by its
// method set, without importing the package.
package metrics
