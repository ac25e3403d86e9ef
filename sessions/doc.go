// Package sessions is the feedback domain: the Session record, its one-way
// state machine (pending → completed | expired | cancelled, a cancel
// optionally recording why: CancelFor), the limits
// counted in characters, the error codes every transport maps to its own
// status codes, and the Service that applies the rules over a Store. See
// docs/api.md, "Limits" and "Errors".
//
// It must not know about HTTP, MCP, WebSockets or NATS. The JetStream KV
// implementation of Store and Feed lives in sessions/natskv.
//
// # What a session asks
//
// A session is a question (kind "question", the default) or an approval
// (kind "approval"). Every combination not listed here is INVALID_REQUEST
// naming the field at fault.
//
// A question has a message (required) and at most one way to answer
// beyond free text:
//
//   - predefinedOptions: checkboxes, or a single choice (radio) with
//     multiSelect false; multiSelect is ignored without options;
//   - fields: a form, an MCP elicitation requestedSchema (ParseFormSchema);
//     options and fields are not allowed together (a form offers choices
//     through an enum field).
//
// An approval has an action (required, a short single-line title) and
// optional details (any JSON, such as a tool call's input) and message; it
// takes no predefinedOptions, fields or multiSelect.
//
// Either kind may have a title (one line) and up to Limits.MaxImages images.
//
// An answer must match what the session asks:
//
//   - to options: selectedOptions (one at most when single-select),
//     freeText, images — at least one of them;
//   - to a form: values (required; ValidateValues), and optionally freeText
//     and images; no selectedOptions;
//   - to an approval: decision "approve" or "deny" (required) and optionally
//     a reason and images; no selectedOptions, values or freeText.
//
// decision and reason are refused on questions, values on sessions without
// a form. combinedFeedback renders every answer as text (RenderFeedback); a
// seed-style answer renders exactly as before.
//
// # Limits
//
// Beyond message, options, free text, timeout and metadata, Limits holds
// (zero means the default): title and action 200 characters, details 32 KiB
// of compact JSON, reason 1000 characters, 4 images per side (question,
// answer) of 5 MiB each, decoded. A form has at most 20 fields and 16 KiB of
// canonical JSON, 100 choices a field of 200 characters each, and string
// answers of at most 1000 characters (constants: they are part of the form
// language, not deployment settings).
//
// # Images
//
// Images arrive as MCP image content ({data, mimeType, name}); their type is
// sniffed from the bytes (PNG, JPEG, WebP, GIF; anything else, SVG and HTML
// included, is refused), and a declared mimeType must name one of those but
// yields to the bytes. Bytes go to an ImageStore before the record that
// references them is written; a request that fails leaves none behind, and
// images are served only while their session's record exists.
package sessions
