// Package httpbridge serves net/http handlers on a fiber app, with what
// fiber's own adaptor leaves out done once, here, for every such mount (MCP,
// /metrics and the operations API, the static files of the page):
//
//   - the request is copied out of fasthttp's buffers before the handler
//     sees it: fasthttp reuses them as soon as its handler returns, which for
//     a streamed response is long before the net/http handler does;
//   - the request's context ends when a write to the client fails (the
//     client has gone: fasthttp gives no other sign of it), when the handler
//     returns, or when the bridge is closed at shutdown; fiber's adaptor
//     hands out a context that never ends;
//   - the request id (pkg/requestid) travels into that context.
//
// It knows nothing of what the handlers serve.
package httpbridge
