package listener

// Unread reports whether c's client has sent bytes not yet read.
var Unread = unread
