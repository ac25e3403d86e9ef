package inbox

import (
	"context"
	"strings"

	"github.com/feedbackd/feedbackd/pkg/auth"
)

// Authenticator turns request credentials into a principal, as
// *auth.Authenticator does.
type Authenticator interface {
	Authenticate(ctx context.Context, c auth.Credentials) (auth.Principal, error)
}

// SocketAuthenticator accepts the inbox's socket credential (SocketToken)
// as the only credential of a request, given as ?token= or as a Bearer
// header, and hands every other request to Next. It is for the notifier
// alone: the REST API and MCP never take a socket credential, so an inbox
// can follow its owner's sessions but never act as an agent.
type SocketAuthenticator struct {
	Links *Service
	Next  Authenticator
}

// Authenticate implements Authenticator.
func (a SocketAuthenticator) Authenticate(ctx context.Context, c auth.Credentials) (auth.Principal, error) {
	token := c.Token
	if token == "" && c.Authorization != "" {
		if scheme, cred, err := auth.ParseAuthorization(c.Authorization); err == nil && strings.EqualFold(scheme, "Bearer") {
			token = cred
		}
	}
	if a.Links == nil || c.Count() != 1 || !strings.HasPrefix(token, auth.PurposeInboxSocket) {
		return a.Next.Authenticate(ctx, c)
	}
	l, err := a.Links.Socket(ctx, token)
	if err != nil {
		return auth.Principal{}, err
	}
	return l.Principal(), nil
}
