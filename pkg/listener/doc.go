// Package listener keeps a server's listening socket up, and the server
// within the process's file descriptors, whatever clients do:
//
//   - Accept never gives up on an error that may pass — out of file
//     descriptors (EMFILE, ENFILE), out of buffers or memory (ENOBUFS,
//     ENOMEM), a connection aborted before it was taken (ECONNABORTED,
//     EPROTO), a firewall's EPERM: it backs off as net/http does (5 ms,
//     doubling to 1 s), logs at most every few seconds, and accepts again.
//     Only closing the listener ends it.
//   - MaxConns caps the connections open at once. One more is refused
//     cheaply: it is given a short canned answer (an HTTP 503, say) and
//     closed at once, so a flood costs one descriptor per connection for
//     microseconds, and the descriptors the process needs for everything
//     else (NATS, files) stay free.
//   - A connection that sends nothing before its first read times out is
//     closed quietly: the server's error answer to a request that never
//     came goes nowhere, where a client racing the timer could take it for
//     the answer to its own request.
//   - The connections it hands out expose their socket (syscall.Conn), so
//     a server can see whether a client is still there (pkg/httpbridge).
//
// RaiseFileLimit and MaxConnsFor size the cap from the process's limit on
// open files. The package knows nothing of HTTP beyond the bytes a caller
// gives it to refuse with, nor of what is served.
package listener
