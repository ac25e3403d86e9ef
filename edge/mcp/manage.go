package mcp

import (
	"context"
	"fmt"
	"strings"

	mcpgo "github.com/mark3labs/mcp-go/mcp"

	"github.com/feedbackd/feedbackd/pkg/envelope"
	"github.com/feedbackd/feedbackd/sessions"
)

// cancel_feedback and list_feedback: what REST's cancel and list routes do,
// for agents (docs/mcp.md, "cancel_feedback" and "list_feedback").

const (
	toolCancelFeedback = "cancel_feedback"
	toolListFeedback   = "list_feedback"
)

// agentCancelReason is recorded on a session its agent withdrew over MCP.
const agentCancelReason = "withdrawn by the agent"

func (t *tools) addManageTools() {
	t.srv.AddTool(mcpgo.Tool{
		Name:            toolCancelFeedback,
		Description:     "Withdraw a pending feedback session you created: the person can no longer answer it, and waits on it end. An answered, expired or cancelled session cannot be cancelled.",
		RawInputSchema:  checkFeedbackStatusInput,
		RawOutputSchema: cancelSchema,
		Annotations: mcpgo.ToolAnnotation{
			Title:           "Cancel a question",
			ReadOnlyHint:    mcpgo.ToBoolPtr(false),
			DestructiveHint: mcpgo.ToBoolPtr(true),
			IdempotentHint:  mcpgo.ToBoolPtr(false),
			OpenWorldHint:   mcpgo.ToBoolPtr(false),
		},
	}, t.cancelFeedback)
	t.srv.AddTool(mcpgo.Tool{
		Name:            toolListFeedback,
		Description:     "List the feedback sessions you created, newest first, optionally only those with one status. Pass nextCursor back as cursor for the next page.",
		RawInputSchema:  listFeedbackInput,
		RawOutputSchema: listSchema,
		Annotations: mcpgo.ToolAnnotation{
			Title:           "List questions",
			ReadOnlyHint:    mcpgo.ToBoolPtr(true),
			DestructiveHint: mcpgo.ToBoolPtr(false),
			IdempotentHint:  mcpgo.ToBoolPtr(true),
			OpenWorldHint:   mcpgo.ToBoolPtr(false),
		},
	}, t.listFeedback)
}

// cancelOutput is the structuredContent of cancel_feedback.
type cancelOutput struct {
	SessionID    string          `json:"sessionId"`
	Status       sessions.Status `json:"status"`
	CancelReason string          `json:"cancelReason,omitempty"`
}

func (t *tools) cancelFeedback(ctx context.Context, req mcpgo.CallToolRequest) (*mcpgo.CallToolResult, error) {
	var args statusArgs
	if err := decodeArgs(req, &args); err != nil {
		return t.toolError(ctx, err), nil
	}
	info := infoFrom(ctx)
	sess, err := t.svc.CancelFor(ctx, info.principal.ID, args.SessionID, agentCancelReason)
	if err != nil {
		if code := sessions.ErrorCode(err); code == sessions.CodeAlreadySubmitted {
			return mcpgo.NewToolResultError(fmt.Sprintf("%s: session %s was already answered; call %s to read the answer.",
				code, args.SessionID, toolGetFeedbackResult)), nil
		}
		return t.toolError(ctx, err), nil
	}
	out := cancelOutput{SessionID: sess.ID, Status: sess.Status, CancelReason: sess.CancelReason}
	return mcpgo.NewToolResultStructured(out, fmt.Sprintf("Session %s is cancelled; the person can no longer answer it.", sess.ID)), nil
}

// listArgs are list_feedback's arguments, as REST's list query.
type listArgs struct {
	Status sessions.Status  `json:"status,omitempty"`
	Limit  *sessions.Number `json:"limit,omitempty"`
	Cursor string           `json:"cursor,omitempty"`
}

// listItem is one session in list_feedback's result: REST's list item, and
// the link.
type listItem struct {
	envelope.ListItem
	FeedbackURL string `json:"feedbackUrl"`
}

// listOutput is the structuredContent of list_feedback.
type listOutput struct {
	Items      []listItem `json:"items"`
	NextCursor string     `json:"nextCursor,omitempty"`
}

func (t *tools) listFeedback(ctx context.Context, req mcpgo.CallToolRequest) (*mcpgo.CallToolResult, error) {
	var args listArgs
	if err := decodeArgs(req, &args); err != nil {
		return t.toolError(ctx, err), nil
	}
	q := sessions.ListQuery{Status: args.Status, Cursor: args.Cursor}
	if args.Limit != nil {
		// As REST's list: a whole number in range, or a clear refusal.
		n, err := args.Limit.Int64()
		if err != nil || n < 1 || n > sessions.MaxListLimit {
			return t.toolError(ctx, sessions.Invalid("limit", fmt.Sprintf("must be a whole number from 1 to %d", sessions.MaxListLimit))), nil
		}
		q.Limit = int(n)
	}
	info := infoFrom(ctx)
	page, err := t.svc.List(ctx, info.principal.ID, q)
	if err != nil {
		return t.toolError(ctx, err), nil
	}
	out := listOutput{Items: make([]listItem, 0, len(page.Items)), NextCursor: page.NextCursor}
	var b strings.Builder
	fmt.Fprintf(&b, "%d session(s)", len(page.Items))
	if args.Status != "" {
		fmt.Fprintf(&b, " %s", args.Status)
	}
	b.WriteString(", newest first:")
	for _, sess := range page.Items {
		item := listItem{ListItem: envelope.ListItemOf(sess), FeedbackURL: envelope.FeedbackURL(info.baseURL, sess.ID)}
		out.Items = append(out.Items, item)
		what := sess.Title
		if what == "" && sess.Approval != nil {
			what = sess.Approval.Action
		}
		if what == "" {
			what = sessions.Preview(sess.Message, 80)
		}
		fmt.Fprintf(&b, "\n- %s: %s, created %s — %s", sess.ID, sess.Status, item.CreatedAt, strings.ReplaceAll(what, "\n", " "))
	}
	if page.NextCursor != "" {
		fmt.Fprintf(&b, "\nMore: call %s with cursor %q.", toolListFeedback, page.NextCursor)
	}
	return mcpgo.NewToolResultStructured(out, b.String()), nil
}

var cancelSchema = mustSchema(schema{
	"type": "object",
	"properties": schema{
		"sessionId":    schema{"type": "string"},
		"status":       schema{"type": "string", "const": "cancelled"},
		"cancelReason": schema{"type": "string"},
	},
	"required": []string{"sessionId", "status"},
})

var listFeedbackInput = mustSchema(schema{
	"type": "object",
	"properties": schema{
		"status": schema{
			"type":        "string",
			"enum":        []sessions.Status{sessions.StatusPending, sessions.StatusCompleted, sessions.StatusExpired, sessions.StatusCancelled},
			"description": "Only sessions with this status; all when absent.",
		},
		"limit": schema{
			"type": "integer", "minimum": 1, "maximum": sessions.MaxListLimit, "default": sessions.DefaultListLimit,
			"description": "How many sessions per page.",
		},
		"cursor": schema{"type": "string", "description": "nextCursor from the previous page."},
	},
})

var listSchema = mustSchema(schema{
	"type": "object",
	"properties": schema{
		"items": schema{
			"type": "array",
			"items": schema{
				"type": "object",
				"properties": schema{
					"sessionId":    schema{"type": "string"},
					"message":      schema{"type": "string"},
					"status":       schema{"type": "string"},
					"createdAt":    schema{"type": "string"},
					"expiresAt":    schema{"type": "string"},
					"submittedAt":  schema{"type": "string"},
					"cancelReason": schema{"type": "string"},
					"kind":         schema{"type": "string"},
					"title":        schema{"type": "string"},
					"action":       schema{"type": "string"},
					"metadata":     schema{"type": "object"},
					"feedbackUrl":  schema{"type": "string"},
				},
				"required": []string{"sessionId", "message", "status", "createdAt", "expiresAt", "kind", "feedbackUrl"},
			},
		},
		"nextCursor": schema{"type": "string", "description": "Pass as cursor for the next page; absent on the last."},
	},
	"required": []string{"items"},
})
