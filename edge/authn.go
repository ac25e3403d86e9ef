package edge

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/feedbackd/feedbackd/pkg/auth"
	"github.com/feedbackd/feedbackd/pkg/envelope"
	"github.com/feedbackd/feedbackd/pkg/redact"
	"github.com/feedbackd/feedbackd/sessions"
)

const principalKey = "feedbackd.principal"

var (
	// errQueryCredentials refuses ?token= and ?apiKey= outside the WebSocket
	// routes: URLs end up in proxy logs, browser history and Referer
	// headers, so a credential there leaks. Refusing it (rather than ignoring
	// it beside a valid header) makes a client that sends one notice at once.
	errQueryCredentials = fmt.Errorf("%w: credentials in the query string are only accepted on WebSocket routes", auth.ErrUnauthorized)
	// errDuplicateCredentials refuses a request with two Authorization (or
	// X-API-Key) headers: a proxy and a client disagreeing about who is
	// calling must not be settled by whichever header comes first.
	errDuplicateCredentials = fmt.Errorf("%w: more than one Authorization or X-API-Key header", auth.ErrUnauthorized)
)

// queryCredentialNames are the query parameters that carry credentials
// somewhere (the notifier, OAuth's access_token form); compared ignoring case.
var queryCredentialNames = [][]byte{[]byte("token"), []byte("apikey"), []byte("api_key"), []byte("access_token")}

// credentials reads what a request offers to prove who it is: headers only.
// The query string forms belong to WebSocket clients, which the notifier
// serves with its own reading of the request.
func credentials(c *fiber.Ctx) (auth.Credentials, error) {
	h := &c.Request().Header
	if len(h.PeekAll(fiber.HeaderAuthorization)) > 1 || len(h.PeekAll("X-API-Key")) > 1 {
		return auth.Credentials{}, errDuplicateCredentials
	}
	for name := range c.Context().QueryArgs().All() {
		for _, refused := range queryCredentialNames {
			if bytes.EqualFold(name, refused) {
				return auth.Credentials{}, errQueryCredentials
			}
		}
	}
	return auth.Credentials{
		Authorization: c.Get(fiber.HeaderAuthorization),
		APIKey:        c.Get("X-API-Key"),
	}, nil
}

// requireAuth lets the request through only with valid credentials and puts
// the principal where handlers find it.
func (s *Server) requireAuth(c *fiber.Ctx) error {
	creds, err := credentials(c)
	if err != nil {
		return s.unauthorized(c, err)
	}
	p, err := s.authn.Authenticate(c.UserContext(), creds)
	if err != nil {
		return s.unauthorized(c, err)
	}
	c.Locals(principalKey, p)
	return c.Next()
}

// unauthorized answers 401 for err, a failed authentication (an error from
// Authenticator.Authenticate or credentials). Every 401 of the edge goes
// through here, the MCP transports' included: on /mcp and /sse it adds the
// WWW-Authenticate challenge MCP clients need, with resource_metadata when
// an external authorization server is configured. The reason is logged at
// debug level; it never contains a credential, only a fingerprint.
func (s *Server) unauthorized(c *fiber.Ctx, err error) error {
	s.log.Debug("authentication failed", "method", c.Method(), "path", redact.IDs(c.Path()), "client", s.clientKey(c), "reason", err)
	if hasPathPrefix(c.Path(), "/mcp") || hasPathPrefix(c.Path(), "/sse") {
		c.Set(fiber.HeaderWWWAuthenticate, auth.Challenge(err, s.resourceMetadataURL(c)))
	}
	msg := "missing or invalid credentials: send X-API-Key, Authorization: ApiKey <key>, or Authorization: Bearer <jwt>"
	switch {
	case errors.Is(err, errQueryCredentials):
		msg = "credentials in the query string are not accepted here: send X-API-Key or Authorization instead"
	case errors.Is(err, errDuplicateCredentials):
		msg = "send exactly one Authorization or X-API-Key header"
	case errors.Is(err, auth.ErrAmbiguousCredentials):
		msg = "send one credential: X-API-Key or Authorization, not both"
	}
	return s.fail(c, sessions.Errorf(envelope.CodeUnauthorized, "%s", msg))
}

// principal returns the principal requireAuth established.
func principal(c *fiber.Ctx) auth.Principal {
	p, _ := c.Locals(principalKey).(auth.Principal)
	return p
}
