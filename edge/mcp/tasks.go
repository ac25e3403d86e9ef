package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	mcpgo "github.com/mark3labs/mcp-go/mcp"

	"github.com/feedbackd/feedbackd/pkg/envelope"
	"github.com/feedbackd/feedbackd/pkg/httpbridge"
	"github.com/feedbackd/feedbackd/sessions"
)

// Tasks (protocol 2025-11-25; docs/mcp.md, "Tasks"): a task-augmented call
// of interactive_feedback or request_approval creates the session and
// answers at once with a task whose taskId is the session id. The task is
// the session: tasks/get, tasks/result, tasks/cancel and tasks/list read
// and change the session through the sessions service, so any replica
// answers them, before or after a restart, and nothing is kept in memory.
// Only the session's owner sees its task; anyone else gets "task not
// found", as for an id that never existed.
//
// Status: pending is working (input_required would tell the client to
// fetch input requests through tasks/result, which this server does not
// send); completed is completed; cancelled is cancelled; an expired
// question is failed, and an expired approval completed, because its
// result (a deny) is the answer a permission prompt expects.

// tasksSince is the protocol version that added Tasks.
const tasksSince = "2025-11-25"

// taskPollInterval is the pollInterval suggested to clients. tasks/result
// waits on the change feed, so a client that calls it need not poll at all.
const taskPollInterval = 5 * time.Second

// agentTaskCancelReason is recorded on a session cancelled by tasks/cancel.
const agentTaskCancelReason = "withdrawn by the agent (tasks/cancel)"

// taskOf is the task a session is. ttl counts from creation to when the
// record is purged: the deadline (or the end) plus the retention.
func (t *tools) taskOf(sess *sessions.Session, baseURL string) mcpgo.Task {
	last := sess.CreatedAt
	end := sess.ExpiresAt
	if sess.FinishedAt != nil {
		last, end = *sess.FinishedAt, *sess.FinishedAt
	}
	ttl := end.Add(t.svc.Retention()).Sub(sess.CreatedAt).Milliseconds()
	poll := taskPollInterval.Milliseconds()
	task := mcpgo.Task{
		TaskId:        sess.ID,
		CreatedAt:     envelope.Time(sess.CreatedAt),
		LastUpdatedAt: envelope.Time(last),
		TTL:           &ttl,
		PollInterval:  &poll,
	}
	switch sess.Status {
	case sessions.StatusPending:
		task.Status = mcpgo.TaskStatusWorking
		task.StatusMessage = fmt.Sprintf("Waiting for the person to answer at %s (until %s).",
			envelope.FeedbackURL(baseURL, sess.ID), envelope.Time(sess.ExpiresAt))
	case sessions.StatusCompleted:
		task.Status = mcpgo.TaskStatusCompleted
		task.StatusMessage = "The person answered at " + envelope.OptTime(sess.SubmittedAt) + "."
	case sessions.StatusCancelled:
		task.Status = mcpgo.TaskStatusCancelled
		task.StatusMessage = "Cancelled."
		if sess.CancelReason != "" {
			task.StatusMessage = "Cancelled: " + sess.CancelReason + "."
		}
	case sessions.StatusExpired:
		task.Status = mcpgo.TaskStatusFailed
		if sess.Approval != nil {
			task.Status = mcpgo.TaskStatusCompleted
		}
		task.StatusMessage = "Nobody answered before " + envelope.Time(sess.ExpiresAt) + "."
	}
	return task
}

// createTask runs a task-augmented tools/call: it creates the session as
// the tool would and answers with its task. Arguments the tool would refuse
// are an invalid-params error (no task exists to carry a failure).
func (t *tools) createTask(ctx context.Context, id, params json.RawMessage) any {
	var p struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	}
	if err := json.Unmarshal(params, &p); err != nil {
		return rpcFailure(id, mcpgo.INVALID_PARAMS, "malformed tools/call params", nil)
	}
	req := mcpgo.CallToolRequest{Params: mcpgo.CallToolParams{Name: p.Name, RawArguments: p.Arguments}}
	info := infoFrom(ctx)
	var create *sessions.CreateRequest
	switch p.Name {
	case toolInteractiveFeedback:
		var args createArgs
		if err := decodeArgs(req, &args); err != nil {
			return rpcFailureOf(id, err)
		}
		create = args.request()
	case toolRequestApproval:
		var args approvalArgs
		if err := decodeArgs(req, &args); err != nil {
			return rpcFailureOf(id, err)
		}
		input, err := checkApprovalArgs(&args)
		if err != nil {
			return rpcFailureOf(id, err)
		}
		// The task's result is rebuilt from the session, whose details hold
		// the input only when it fits.
		if maxD := orDefault(t.svc.Limits().MaxDetails, sessions.DefaultMaxDetails); len(input) > maxD {
			return rpcFailureOf(id, sessions.Invalid("input", fmt.Sprintf(
				"is %s, more than a task can carry (%d KiB); call %s without a task", sizeText(len(input)), maxD>>10, toolRequestApproval)))
		}
		create = approvalRequest(&args, input, t.svc.Limits())
	}
	if info.allowCreate != nil {
		if err := info.allowCreate(); err != nil {
			return rpcFailureOf(id, err)
		}
	}
	// An MCP Apps host may show the app for a task too: it finds the
	// session by the call's arguments.
	create.CallRef = callRef(ctx, req)
	sess, err := t.svc.Create(ctx, info.principal.ID, create)
	if err != nil {
		return rpcFailureOf(id, err)
	}
	return rpcResult(id, map[string]any{
		"task": t.taskOf(sess, info.baseURL),
		"_meta": map[string]any{mcpgo.ModelImmediateResponseMetaKey: fmt.Sprintf(
			"Asked the person (session %s); they answer at %s. The result comes with tasks/result.",
			sess.ID, envelope.FeedbackURL(info.baseURL, sess.ID))},
	})
}

// taskMethod answers tasks/get, tasks/result, tasks/cancel and tasks/list.
func (t *tools) taskMethod(ctx context.Context, method mcpgo.MCPMethod, id, params json.RawMessage) any {
	info := infoFrom(ctx)
	var p struct {
		TaskID string `json:"taskId"`
		Cursor string `json:"cursor"`
	}
	if len(params) > 0 && json.Unmarshal(params, &p) != nil {
		return rpcFailure(id, mcpgo.INVALID_PARAMS, "malformed params", nil)
	}
	if method == mcpgo.MethodTasksList {
		page, err := t.svc.List(ctx, info.principal.ID, sessions.ListQuery{Cursor: p.Cursor})
		if err != nil {
			return rpcFailureOf(id, err)
		}
		tasks := make([]mcpgo.Task, 0, len(page.Items))
		for _, sess := range page.Items {
			tasks = append(tasks, t.taskOf(sess, info.baseURL))
		}
		res := map[string]any{"tasks": tasks}
		if page.NextCursor != "" {
			res["nextCursor"] = page.NextCursor
		}
		return rpcResult(id, res)
	}
	notFound := rpcFailure(id, mcpgo.INVALID_PARAMS, "Task not found: no task with this taskId belongs to you", map[string]any{"taskId": p.TaskID})
	sess, err := t.svc.GetOwned(ctx, info.principal.ID, p.TaskID)
	switch code := sessions.ErrorCode(err); code {
	case "":
	case sessions.CodeNotFound, sessions.CodeInvalidRequest:
		return notFound
	default:
		return rpcFailureOf(id, err)
	}
	switch method {
	case mcpgo.MethodTasksGet:
		return rpcResult(id, t.taskOf(sess, info.baseURL))
	case mcpgo.MethodTasksCancel:
		got, err := t.svc.CancelFor(ctx, sess.Owner, sess.ID, agentTaskCancelReason)
		switch sessions.ErrorCode(err) {
		case "":
			return rpcResult(id, t.taskOf(got, info.baseURL))
		case sessions.CodeAlreadySubmitted, sessions.CodeExpired, sessions.CodeCancelled:
			return rpcFailure(id, mcpgo.INVALID_PARAMS, "Cannot cancel task: it is already "+string(t.taskOf(got, info.baseURL).Status), nil)
		}
		return rpcFailureOf(id, err)
	}
	if sess, err = t.awaitTask(ctx, sess); err != nil {
		if errors.Is(err, httpbridge.ErrShuttingDown) {
			return rpcFailure(id, mcpgo.REQUEST_INTERRUPTED, fmt.Sprintf("This server is shutting down; task %s is still working "+
				"(the person has not answered). Call tasks/result again, in a moment if the server is restarting: "+
				"any replica answers it.", sess.ID), map[string]any{"taskId": sess.ID, "status": mcpgo.TaskStatusWorking})
		}
		return rpcFailureOf(id, err)
	}
	if ctx.Err() != nil {
		return rpcFailure(id, mcpgo.REQUEST_INTERRUPTED, "the request ended before the task did", nil)
	}
	res, err := t.taskResult(ctx, sess, info.baseURL)
	if err != nil {
		return rpcFailureOf(id, err)
	}
	res.Meta = mcpgo.WithRelatedTask(sess.ID)
	return rpcResult(id, res)
}

// awaitTask waits for sess to end, on the change feed, holding one of the
// owner's wait slots as get_feedback_result does. It returns early when ctx
// ends (the client left) and with httpbridge.ErrShuttingDown, and the
// session still pending, when the server starts shutting down.
func (t *tools) awaitTask(ctx context.Context, sess *sessions.Session) (*sessions.Session, error) {
	if sess.Status.Terminal() {
		return sess, nil
	}
	release, err := t.slot(sess.Owner)
	if err != nil {
		return sess, err
	}
	defer release()
	wctx, cancel := t.waitContext(ctx)
	defer cancel()
	for !sess.Status.Terminal() && wctx.Err() == nil {
		got, err := t.svc.Wait(wctx, sess.Owner, sess.ID, time.Until(sess.ExpiresAt)+time.Second)
		if err != nil && wctx.Err() != nil && ctx.Err() == nil {
			// Stopped in the middle of a read: read afresh.
			got, err = t.svc.GetOwned(ctx, sess.Owner, sess.ID)
		}
		if err != nil {
			return sess, err
		}
		sess = got
	}
	if !sess.Status.Terminal() && ctx.Err() == nil && errors.Is(context.Cause(wctx), httpbridge.ErrShuttingDown) {
		return sess, httpbridge.ErrShuttingDown
	}
	return sess, nil
}

// taskResult is the result the tool would have answered for a finished
// session: an approval's decision, or a question's answer. An expired
// question, a failed task, is an error result.
func (t *tools) taskResult(ctx context.Context, sess *sessions.Session, baseURL string) (*mcpgo.CallToolResult, error) {
	if sess.Approval != nil {
		return approvalDecision(sess, sess.Approval.Details), nil
	}
	res, err := t.result(ctx, sess, baseURL, false)
	if err == nil && sess.Status == sessions.StatusExpired {
		res.IsError = true
	}
	return res, err
}
