// Package dirlock holds an advisory lock on a directory for the life of a
// process, so that two processes never open the same data at once: feedbackd
// serve and feedbackd nats lock DATA_DIR before the embedded NATS server
// opens its store there (docs/architecture.md, "The program and its roles").
//
// The lock is flock(2) on a file in the directory. The kernel drops it when
// the process ends, however it ends, so a crash never leaves a stale lock
// behind; the file only records the pid of the holder, for the message the
// next process prints. It must not know what the directory holds.
package dirlock
