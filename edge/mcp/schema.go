package mcp

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/feedbackd/feedbackd/sessions"
)

// The JSON Schemas of the tools' inputs and outputs. Limits come from the
// sessions service so that what a client is told is what the server
// enforces. No "format" keywords: some clients compile schemas with
// validators that reject formats they do not know.

type schema = map[string]any

func mustSchema(s schema) json.RawMessage {
	b, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("tool schema: %v", err))
	}
	return b
}

func sessionIDProperty() schema {
	return schema{
		"type":        "string",
		"description": "The sessionId returned by interactive_feedback (a lowercase UUID).",
		"minLength":   36,
		"maxLength":   36,
	}
}

func waitSecondsProperty(def time.Duration) schema {
	return schema{
		"type":    "integer",
		"minimum": 0,
		"maximum": maxWaitSeconds,
		"default": int(def / time.Second),
		"description": fmt.Sprintf("How long this call waits for the answer, in seconds; default %d, 0 returns at once. "+
			"Keep it below your client's tool-call timeout (often 60 s); call get_feedback_result to wait longer.", int(def/time.Second)),
	}
}

func interactiveFeedbackInput(l sessions.Limits, wait time.Duration) json.RawMessage {
	return mustSchema(schema{
		"type": "object",
		"properties": schema{
			"message": schema{
				"type":        "string",
				"minLength":   1,
				"maxLength":   l.MaxMessage,
				"description": "The question or request for the person. Markdown is rendered on the feedback page.",
			},
			"predefinedOptions": schema{
				"type":        "array",
				"items":       schema{"type": "string", "minLength": 1, "maxLength": l.MaxOption},
				"maxItems":    l.MaxOptions,
				"uniqueItems": true,
				"description": "Choices the person can pick from (several may be selected). They can always add free text.",
			},
			"timeout": schema{
				"type":        "integer",
				"minimum":     int(l.MinTimeout / time.Second),
				"maximum":     int(l.MaxTimeout / time.Second),
				"default":     int(l.DefaultTimeout / time.Second),
				"description": "Seconds until the session expires and can no longer be answered.",
			},
			"metadata": schema{
				"type":        "object",
				"description": fmt.Sprintf("Any JSON object (at most %d bytes) kept with the session.", l.MaxMetadata),
			},
			"notify": schema{
				"type":    "boolean",
				"default": true,
				"description": "Whether the person's notification channels (Telegram, Slack, ntfy, Web Push, webhooks) hear of the question; " +
					"false when the person is watching this chat anyway.",
			},
			"waitSeconds": waitSecondsProperty(wait),
		},
		"required": []string{"message"},
	})
}

func getFeedbackResultInput(wait time.Duration) json.RawMessage {
	return mustSchema(schema{
		"type": "object",
		"properties": schema{
			"sessionId":   sessionIDProperty(),
			"waitSeconds": waitSecondsProperty(wait),
		},
		"required": []string{"sessionId"},
	})
}

var checkFeedbackStatusInput = mustSchema(schema{
	"type":       "object",
	"properties": schema{"sessionId": sessionIDProperty()},
	"required":   []string{"sessionId"},
})

func statusProperties() schema {
	return schema{
		"sessionId": schema{"type": "string"},
		"status": schema{
			"type":        "string",
			"enum":        []sessions.Status{sessions.StatusPending, sessions.StatusCompleted, sessions.StatusExpired, sessions.StatusCancelled},
			"description": "pending until the person answers (completed), the deadline passes (expired) or the owner cancels (cancelled).",
		},
		"feedbackUrl": schema{"type": "string", "description": "The page where the person answers."},
		"createdAt":   schema{"type": "string", "description": "RFC 3339 time."},
		"expiresAt":   schema{"type": "string", "description": "RFC 3339 time after which no answer is accepted."},
		"submittedAt": schema{"type": "string", "description": "RFC 3339 time of the answer, once completed."},
	}
}

var statusRequired = []string{"sessionId", "status", "feedbackUrl", "createdAt", "expiresAt"}

// statusSchema is the outputSchema of check_feedback_status.
var statusSchema = mustSchema(schema{
	"type":       "object",
	"properties": statusProperties(),
	"required":   statusRequired,
})

// resultSchema is the outputSchema of interactive_feedback and
// get_feedback_result.
var resultSchema = func() json.RawMessage {
	props := statusProperties()
	props["feedback"] = schema{
		"type":        "object",
		"description": "The answer, present once status is completed.",
		"properties": schema{
			"selectedOptions":  schema{"type": "array", "items": schema{"type": "string"}},
			"freeText":         schema{"type": "string"},
			"combinedFeedback": schema{"type": "string", "description": "The selected options, one per line, a blank line, then the free text."},
		},
		"required": []string{"combinedFeedback"},
	}
	props["metadata"] = schema{"type": "object", "description": "Metadata sent with the answer, if any."}
	props["instruction"] = schema{"type": "string", "description": "What to do next while the session is still pending."}
	return mustSchema(schema{"type": "object", "properties": props, "required": statusRequired})
}()
