// A small MCP Apps host for the end-to-end test (test/apps.test.js), bundled
// for the browser with esbuild. It is what a web chat client does with a
// tool that has a UI: it connects the official TypeScript SDK client to
// feedbackd (through its own server, which adds the credential), declaring
// the MCP Apps extension; it lists the tools the model may see (never the
// app-only ones); and when the agent calls one whose _meta.ui names a
// ui:// resource, it reads the resource and renders it in a sandboxed iframe
// behind a sandbox proxy of another origin, as the extension's specification
// requires of web hosts, with ext-apps' AppBridge speaking the protocol. The
// app's own tool calls go to the server only when the tool's visibility
// includes "app".
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import {
  AppBridge,
  PostMessageTransport,
  getToolUiResourceUri,
  isToolVisibilityAppOnly,
  RESOURCE_MIME_TYPE,
} from '@modelcontextprotocol/ext-apps/app-bridge';

const EXTENSION = 'io.modelcontextprotocol/ui';
const hostInfo = { name: 'feedbackd-e2e-host', version: '1.0.0' };
const params = new URLSearchParams(location.search);
const sandboxURL = params.get('sandbox');
const hostContext = {
  theme: params.get('theme') || 'light',
  locale: params.get('locale') || 'en-US',
  displayMode: 'inline',
  availableDisplayModes: ['inline'],
  platform: 'web',
  styles: { variables: { '--font-sans': 'Georgia, serif' } },
};

// Like the chat clients that ship MCP Apps, the host can also ask the person
// by elicitation; feedbackd must ask it through the app only. A form it is
// sent anyway is recorded, and dismissed.
const client = new Client(hostInfo, {
  capabilities: { extensions: { [EXTENSION]: { mimeTypes: [RESOURCE_MIME_TYPE] } }, elicitation: { form: {}, url: {} } },
});

const state = { ready: false, error: '', modelTools: [], appTools: [], results: {}, cancelled: {}, sizes: {}, openedLinks: [], elicited: [] };
window.host = state;

client.setRequestHandler('elicitation/create', async (request) => {
  state.elicited.push(request.params.message);
  return { action: 'cancel' };
});

let tools = new Map();

// call is the agent calling a tool: the app (if the tool has one) shows
// while the call runs, and hears its input and result.
state.call = (n, name, args) => {
  const tool = tools.get(name);
  const uri = tool && getToolUiResourceUri(tool);
  const call = client.callTool({ name, arguments: args }, { timeout: 120000 });
  const record = call.then(
    (result) => { state.results[n] = { result }; },
    (error) => { state.results[n] = { error: String(error && error.message || error) }; },
  );
  if (uri) showApp(n, uri, tool, args, call).catch((e) => { state.results[`app-${n}`] = String(e && e.stack || e); });
  return record.then(() => true);
};

async function showApp(n, uri, tool, args, call) {
  const read = await client.readResource({ uri });
  const content = read.contents[0];
  if (content.mimeType !== RESOURCE_MIME_TYPE) throw new Error(`app resource is ${content.mimeType}`);
  const ui = (content._meta && content._meta.ui) || {};

  const frame = document.createElement('iframe');
  frame.id = `app-${n}`;
  frame.title = `App for ${tool.name}`;
  frame.setAttribute('sandbox', 'allow-scripts allow-same-origin');
  frame.style.cssText = 'width: 600px; height: 200px; border: 0; display: block';
  document.getElementById('chat').append(frame);

  const capabilities = { openLinks: {}, serverTools: {}, serverResources: {}, logging: {} };
  // A host that passes no tool calls on, to see the app say so.
  if (params.get('serverTools') === 'no') delete capabilities.serverTools;
  const bridge = new AppBridge(client, hostInfo, capabilities, {
    hostContext: { ...hostContext, toolInfo: { tool } },
  });
  bridge.onsandboxready = () => {
    bridge.sendSandboxResourceReady({ html: content.text, csp: ui.csp, permissions: ui.permissions });
  };
  bridge.onsizechange = ({ height }) => {
    if (height != null) {
      frame.style.height = `${height}px`;
      state.sizes[n] = height;
    }
  };
  bridge.onopenlink = async ({ url }) => {
    state.openedLinks.push(url);
    return {};
  };
  bridge.oninitialized = () => {
    bridge.sendToolInput({ arguments: args });
    call.then(
      (result) => bridge.sendToolResult(result),
      (error) => bridge.sendToolCancelled({ reason: String(error && error.message || error) }),
    );
  };
  await bridge.connect(new PostMessageTransport(frame.contentWindow, frame.contentWindow));
  // The app may call a tool only if its visibility includes "app"; the
  // bridge would forward anything, so the host checks first.
  const forward = bridge.oncalltool;
  bridge.oncalltool = async (p, extra) => {
    const target = tools.get(p.name);
    const visibility = target && target._meta && target._meta.ui && target._meta.ui.visibility;
    if (!target || (visibility && !visibility.includes('app'))) throw new Error(`the app may not call ${p.name}`);
    return forward(p, extra);
  };
  frame.src = sandboxURL;
}

(async () => {
  try {
    await client.connect(new StreamableHTTPClientTransport(new URL('/mcp', location.href)));
    state.serverExtensions = (client.getServerCapabilities() || {}).extensions || {};
    const listed = await client.listTools();
    tools = new Map(listed.tools.map((t) => [t.name, t]));
    state.modelTools = listed.tools.filter((t) => !isToolVisibilityAppOnly(t)).map((t) => t.name).sort();
    state.appTools = listed.tools.filter((t) => isToolVisibilityAppOnly(t)).map((t) => t.name).sort();
    state.ready = true;
  } catch (e) {
    state.error = String(e && e.stack || e);
  }
})();
