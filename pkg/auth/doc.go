// Package auth turns request credentials into a Principal. It accepts API
// keys ("X-API-Key: K" or "Authorization: ApiKey K", compared in constant
// time) and JWTs ("Authorization: Bearer T"): HS256 with a shared secret, or
// RS256/ES256 with keys fetched from a JWKS URL and refreshed in the
// background. Algorithms are pinned per key family, exp is required, and
// iss/aud are checked when configured. The same Authenticator serves REST,
// MCP and WebSocket; the WebSocket query forms (?token=, ?apiKey=) are
// fields of Credentials that the caller fills only where it allows them.
//
// It also mints what the CLI prints (MintHS256, NewAPIKey) and the page
// tokens the feedback page uses to watch its own session (PageTokens), and
// the purpose-bound tokens of inbox links (LinkTokens: the link, the inbox's
// session cookie, its WebSocket credential).
//
// Errors wrap ErrUnauthorized and say why in words safe to log: a key or
// token is never part of an error, only its Fingerprint. The package knows
// nothing of sessions or HTTP frameworks; the caller copies headers and
// query parameters into Credentials and maps errors to 401.
package auth
