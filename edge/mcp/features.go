package mcp

import (
	"context"
	"encoding/json"
	"strings"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// What a client declared that changes how feedbackd asks the person
// (docs/mcp.md, "Which client gets which path"). It is read in one place,
// requestFeatures, from wherever this request's declaration lives:
//
//   - a 2026-07-28 request declares its capabilities itself, in _meta;
//   - a Streamable HTTP request before it carries them in its session id
//     (session.go), written at initialize, so any replica knows them;
//   - an SSE request reads them from mcp-go's session of its stream, which
//     lives on the replica holding the stream, where every message for it
//     is handled (relay.go).

// clientFeatures is a set of the features a client declared.
type clientFeatures uint8

// The features. Their bits are written into session ids, so a bit keeps its
// meaning once released: add new ones at the end.
const (
	// featureApps: the client hosts MCP Apps (io.modelcontextprotocol/ui)
	// with HTML apps.
	featureApps clientFeatures = 1 << iota
	// featureElicitForm: the client declared elicitation in form mode
	// (2025-06-18's "elicitation": {}, or 2025-11-25's "form").
	featureElicitForm
	// featureElicitURL: the client declared elicitation in URL mode
	// (2025-11-25).
	featureElicitURL

	knownFeatures = featureApps | featureElicitForm | featureElicitURL
)

// featuresOf reads the features caps declare.
func featuresOf(caps *mcpgo.ClientCapabilities) clientFeatures {
	if caps == nil {
		return 0
	}
	var f clientFeatures
	if declaresApps(caps) {
		f |= featureApps
	}
	if e := caps.Elicitation; e != nil {
		// An empty object is form mode: that is all 2025-06-18 had.
		if e.Form != nil || e.URL == nil {
			f |= featureElicitForm
		}
		if e.URL != nil {
			f |= featureElicitURL
		}
	}
	return f
}

// declaresApps reports whether caps declare the MCP Apps extension for HTML
// apps.
func declaresApps(caps *mcpgo.ClientCapabilities) bool {
	settings, ok := caps.Extensions[appsExtension].(map[string]any)
	if !ok {
		return false
	}
	types, _ := settings["mimeTypes"].([]any)
	for _, t := range types {
		if s, ok := t.(string); ok && strings.EqualFold(strings.ReplaceAll(s, " ", ""), appMIMEType) {
			return true
		}
	}
	return false
}

// declaredFeatures are the features the params of an initialize request
// declare.
func declaredFeatures(params json.RawMessage) clientFeatures {
	var p struct {
		Capabilities mcpgo.ClientCapabilities `json:"capabilities"`
	}
	if json.Unmarshal(params, &p) != nil {
		return 0
	}
	return featuresOf(&p.Capabilities)
}

// requestFeatures are the features the client of this request declared.
func requestFeatures(ctx context.Context) clientFeatures {
	if p := server.RequestProtocolInfoFromContext(ctx); p != nil && p.Modern {
		return featuresOf(p.ClientCapabilities)
	}
	if info := infoFrom(ctx); info.transport == Streamable {
		return info.features
	}
	if cs, ok := server.ClientSessionFromContext(ctx).(server.SessionWithClientInfo); ok {
		caps := cs.GetClientCapabilities()
		return featuresOf(&caps)
	}
	return 0
}

// appsHost reports whether the client of this request hosts MCP Apps.
func appsHost(ctx context.Context) bool { return requestFeatures(ctx)&featureApps != 0 }
