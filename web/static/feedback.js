// feedbackd feedback page.
//
// Without this script the page is a plain form that posts and reloads. With
// it the page submits as JSON without a reload, counts characters, checks a
// form's fields as they are filled in, takes images by paste, drop, file
// picker or camera (with previews, checked before upload), keeps a countdown
// to the deadline, and follows the session live (WebSocket, else polling) so
// that it changes when the question is answered elsewhere, expires or is
// cancelled. Every text it shows comes from the translations the server put
// in <script type="application/json" id="page-data">; it never builds markup
// from data (createElement and textContent only).
//
// The MCP App (web/app/app.js) runs the same script over the same markup,
// rendered into its document, with a transport that talks to the host
// instead of the server: see start.
(() => {
  'use strict';

  const $ = (id) => document.getElementById(id);

  // start runs the page over the question in the document; cfg is the data
  // of its page-data element. transport, when given, replaces how the page
  // talks to the server (the MCP App gives one):
  //   submit(body) → Promise<{ok, status, payload}>, payload the API envelope;
  //   watch(onStatus) → a function that stops it; onStatus(status, expiresAt);
  //   state() → Promise<{status, expiresAt}>;
  //   previewURL(file) → Promise<string>, a URL the document may show;
  //   finished(view) hears which view the page shows once the form closed.
  // It returns a function that stops it (its timers, its live updates and the
  // listeners it put on the document), for the inbox, which opens and folds
  // questions within one document.
  const start = (cfg, transport = {}) => {
    const i18n = cfg.i18n || {};
    const max = cfg.maxFreeText || 1000;

    // t returns the translation of key with its {name} placeholders filled.
    const t = (key, args = {}) => {
      let text = Object.prototype.hasOwnProperty.call(i18n, key) ? i18n[key] : key;
      for (const [name, value] of Object.entries(args)) {
        text = text.split(`{${name}}`).join(String(value));
      }
      return text;
    };

    // The browser's clock may be off; the server's is the one that counts.
    const clockOffset = (Date.parse(cfg.serverNow) || Date.now()) - Date.now();
    const now = () => Date.now() + clockOffset;
    let expiresAt = Date.parse(cfg.expiresAt);

    const formatTime = (iso) => {
      const date = new Date(iso);
      if (Number.isNaN(date.getTime())) return '';
      try {
        return new Intl.DateTimeFormat(cfg.lang === 'zh' ? 'zh-CN' : 'en', {
          dateStyle: 'medium',
          timeStyle: 'short',
        }).format(date);
      } catch {
        return date.toLocaleString();
      }
    };

    const setSentAt = (iso) => {
      const el = $('sent-at');
      if (!el || !iso) return;
      el.dateTime = iso;
      el.textContent = t('view.submitted.at', { time: formatTime(iso) });
    };

    // The server wrote times in UTC; show them in the reader's own zone.
    for (const el of document.querySelectorAll('time.local-time')) {
      if (el.dateTime) el.textContent = t(el.dataset.key, { time: formatTime(el.dateTime) });
    }

    let state = cfg.state;
    if (state !== 'pending') return () => {};
    // Ends the listeners this run puts on the document and the window.
    const lifetime = new AbortController();

    const card = $('card');
    const form = $('answer-form');
    const approval = cfg.kind === 'approval';
    // The free text, or an approval's reason: the box the counter counts.
    const textarea = $('free-text') || $('reason');
    const counter = $('counter');
    const errorBox = $('form-error');
    const errorText = $('form-error-text');
    const submitButton = $('submit');
    const shortcut = $('shortcut');
    const countdown = $('countdown');
    const countdownText = $('countdown-text');

    // ---- Views -------------------------------------------------------------

    let closed = false; // the form no longer accepts an answer
    let sending = false;
    let deferredStatus = ''; // a live status that arrived while sending

    const showView = (view, focus) => {
      for (const section of document.querySelectorAll('[data-view]')) {
        section.hidden = section.dataset.view !== view;
      }
      card.dataset.state = view;
      state = view;
      const section = document.querySelector(`[data-view="${view}"]`);
      const heading = section && section.querySelector('h2');
      if (focus && heading) {
        heading.focus();
      } else if (section) {
        // The news sits above the question; someone scrolled down to the form
        // must still see it.
        const still = window.matchMedia('(prefers-reduced-motion: reduce)').matches;
        section.scrollIntoView({ block: 'start', behavior: still ? 'auto' : 'smooth' });
      }
    };

    // finish closes the form and shows view. A person's unsent text stays
    // readable (and copyable) when the question closes under them.
    const finish = (view, focus) => {
      if (!closed) {
        closed = true;
        stopLive();
        stopCountdown();
        if (countdown) countdown.remove();
        if (view === 'submitted' || textarea.value.trim() === '') {
          form.remove();
        } else {
          for (const el of form.elements) el.disabled = el !== textarea;
          textarea.readOnly = true;
          form.classList.add('is-closed');
          form.querySelector('.actions').remove();
          const attach = $('attach');
          if (attach) attach.remove();
          errorBox.hidden = true;
        }
      }
      showView(view, focus);
      if (transport.finished) transport.finished(view);
    };

    const viewForStatus = (status) =>
      ({ completed: 'completed', expired: 'expired', cancelled: 'cancelled' })[status] || 'gone';

    // applyStatus reacts to what the server says the session is now.
    const applyStatus = (status, newExpiresAt) => {
      const parsed = Date.parse(newExpiresAt || '');
      if (!Number.isNaN(parsed)) expiresAt = parsed;
      if (!status || status === 'pending') return;
      if (sending) {
        // Our own submit is in flight; its answer decides what to show.
        deferredStatus = status;
        return;
      }
      if (state === 'submitted') return;
      if (closed && state === viewForStatus(status)) return;
      finish(viewForStatus(status), false);
    };

    // ---- Character counter --------------------------------------------------

    // Counted in code points, as the server counts characters (not UTF-16 units).
    const charCount = (text) => {
      let n = 0;
      for (const _ of text) n++;
      return n;
    };

    const updateCounter = () => {
      const n = charCount(textarea.value);
      counter.textContent = t('form.counter', { count: n, max });
      counter.classList.toggle('is-over', n > max);
      if (n > max) textarea.setAttribute('aria-invalid', 'true');
      else textarea.removeAttribute('aria-invalid');
    };
    textarea.addEventListener('input', updateCounter);
    updateCounter();

    // ---- Submitting ----------------------------------------------------------

    // An approval has two buttons and no default: Ctrl+Enter would have to
    // guess which one, so it has no shortcut.
    if (shortcut && submitButton) {
      const isMac = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent || '');
      shortcut.textContent = t('form.shortcut', { keys: isMac ? '⌘ + Enter' : 'Ctrl + Enter' });
      shortcut.hidden = false;
      textarea.setAttribute('aria-keyshortcuts', isMac ? 'Meta+Enter' : 'Control+Enter');

      form.addEventListener('keydown', (event) => {
        if (event.key !== 'Enter' || !(event.ctrlKey || event.metaKey) || event.isComposing) return;
        event.preventDefault();
        if (typeof form.requestSubmit === 'function' && !transport.submit) form.requestSubmit(submitButton);
        else submitButton.click();
      });
    }

    const showError = (message, focusTarget) => {
      errorText.textContent = message;
      errorBox.hidden = false;
      if (focusTarget) focusTarget.focus();
    };

    const errorMessage = (code, field) => {
      for (const key of [`error.${code}.${field}`, `error.${code}`]) {
        if (code && Object.prototype.hasOwnProperty.call(i18n, key)) return t(key, { max });
      }
      return t('error.generic');
    };

    const buttons = [...form.querySelectorAll('.actions button')];
    const labels = new Map(buttons.map((b) => [b, b.textContent]));

    const setSending = (on, pressed) => {
      sending = on;
      for (const button of buttons) {
        button.setAttribute('aria-disabled', String(on));
        button.setAttribute('aria-busy', String(on && button === pressed));
        button.textContent = on && button === pressed ? t('form.sending') : labels.get(button);
      }
    };

    // ---- Form fields -----------------------------------------------------------

    // Each field of a form is a .form-field with data-name and data-control;
    // its error element carries the translated texts the server wrote for it.
    const fields = [...form.querySelectorAll('.form-field')].map((el) => ({
      el,
      name: el.dataset.name,
      control: el.dataset.control,
      required: el.hasAttribute('data-required'),
      minItems: Number(el.dataset.minItems || 0),
      maxItems: Number(el.dataset.maxItems || 0),
      inputs: [...el.querySelectorAll('input, select')],
      error: el.querySelector('.field-error'),
    }));

    // datetime-local inputs hold UTC from the server; show the person's own
    // time, and say so.
    const pad = (n) => String(n).padStart(2, '0');
    const localInput = (date) =>
      `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
    const zoneName = () => {
      const minutes = -new Date().getTimezoneOffset();
      const sign = minutes < 0 ? '−' : '+';
      return `UTC${sign}${pad(Math.floor(Math.abs(minutes) / 60))}:${pad(Math.abs(minutes) % 60)}`;
    };
    for (const input of form.querySelectorAll('input[data-utc]')) {
      if (input.value) {
        const date = new Date(`${input.value}Z`);
        if (!Number.isNaN(date.getTime())) input.value = localInput(date);
      }
    }
    for (const tz of form.querySelectorAll('[data-tz]')) {
      tz.textContent = t('field.localTime', { zone: zoneName() });
      tz.parentElement.hidden = false;
    }

    // fieldValue reads a field as the API wants it; undefined is no answer.
    const fieldValue = (f) => {
      switch (f.control) {
        case 'checkbox':
          return f.inputs[0].checked;
        case 'checkboxes': {
          const picked = f.inputs.filter((i) => i.checked).map((i) => i.value);
          return picked.length ? picked : undefined;
        }
        case 'radios': {
          const picked = f.inputs.find((i) => i.checked);
          return picked && picked.value !== '' ? picked.value : undefined;
        }
        case 'number': {
          const v = f.inputs[0].value.trim();
          return v === '' ? undefined : Number(v);
        }
        case 'datetime-local': {
          const v = f.inputs[0].value;
          if (!v) return undefined;
          const date = new Date(v); // local time, as the person sees it
          return Number.isNaN(date.getTime()) ? v : date.toISOString();
        }
        default: {
          const v = f.inputs[0].value;
          return v === '' ? undefined : v;
        }
      }
    };

    // fieldProblem says what is wrong with a field now: '' (nothing),
    // 'required' or 'invalid'. The browser checks types, bounds and lengths.
    const fieldProblem = (f) => {
      const value = fieldValue(f);
      if (value === undefined) return f.required ? 'required' : '';
      if (f.control === 'checkboxes') {
        if ((f.minItems && value.length < f.minItems) || (f.maxItems && value.length > f.maxItems)) return 'invalid';
        return '';
      }
      if (f.control === 'number' && !Number.isFinite(value)) return 'invalid';
      return f.inputs.every((i) => i.checkValidity()) ? '' : 'invalid';
    };

    const showFieldError = (f, problem) => {
      if (!f.error) return;
      f.error.textContent = problem ? f.error.dataset[problem === 'required' ? 'requiredText' : 'invalidText'] : '';
      f.error.hidden = !problem;
      for (const input of f.inputs) {
        if (problem) input.setAttribute('aria-invalid', 'true');
        else input.removeAttribute('aria-invalid');
      }
    };

    // A field's error clears as soon as it is fixed, and shows when the
    // person leaves a field that is wrong.
    for (const f of fields) {
      f.el.addEventListener('input', () => {
        if (!f.error.hidden) showFieldError(f, fieldProblem(f));
      });
      f.el.addEventListener('change', () => {
        if (!f.error.hidden) showFieldError(f, fieldProblem(f));
      });
      f.el.addEventListener('focusout', (event) => {
        if (f.el.contains(event.relatedTarget)) return;
        const problem = fieldProblem(f);
        if (problem === 'invalid') showFieldError(f, problem);
      });
    }

    // ---- Images ----------------------------------------------------------------

    const imageTypes = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'];
    const maxImages = cfg.maxImages || 4;
    const maxImageBytes = cfg.maxImageBytes || 5 * 1024 * 1024;
    const attached = []; // {file, type, url}

    const sizeText = (n) =>
      n >= 1048576 ? `${(n / 1048576).toFixed(1).replace(/\.0$/, '')} MB` : `${Math.ceil(n / 1024)} KB`;

    // sniff reads a file's first bytes: the server trusts nothing else, and
    // neither does the page (an HTML file renamed .png is refused here).
    const sniff = async (file) => {
      const b = new Uint8Array(await file.slice(0, 12).arrayBuffer());
      const is = (...bytes) => bytes.every((x, i) => b[i] === x);
      if (is(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'image/png';
      if (is(0xff, 0xd8, 0xff)) return 'image/jpeg';
      if (is(0x47, 0x49, 0x46, 0x38)) return 'image/gif';
      if (is(0x52, 0x49, 0x46, 0x46) && b[8] === 0x57 && b[9] === 0x45 && b[10] === 0x42 && b[11] === 0x50) return 'image/webp';
      return '';
    };

    // The attach area: built here for every page (a seed-style question has
    // no server-rendered one), replacing the plain file input of the page
    // without script.
    const attachArea = document.createElement('div');
    attachArea.className = 'field attach';
    attachArea.id = 'attach';
    const attachLabel = document.createElement('p');
    attachLabel.className = 'field-label';
    attachLabel.id = 'attach-label';
    attachLabel.textContent = t('images.label');
    const attachOptional = document.createElement('span');
    attachOptional.className = 'optional';
    attachOptional.textContent = ` (${t('form.optional')})`;
    attachLabel.append(attachOptional);
    const attachHint = document.createElement('p');
    attachHint.className = 'hint';
    attachHint.id = 'images-hint';
    attachHint.textContent = t('images.hint', { count: maxImages, size: sizeText(maxImageBytes) });
    const zone = document.createElement('div');
    zone.className = 'dropzone';
    zone.id = 'dropzone';
    const zoneText = document.createElement('span');
    zoneText.className = 'dropzone-text';
    zoneText.textContent = t('images.drop');
    const pickInput = document.createElement('input');
    pickInput.type = 'file';
    pickInput.accept = imageTypes.join(',');
    pickInput.multiple = true;
    pickInput.id = 'images';
    pickInput.className = 'sr-only';
    pickInput.tabIndex = -1;
    pickInput.setAttribute('aria-hidden', 'true');
    const cameraInput = document.createElement('input');
    cameraInput.type = 'file';
    cameraInput.accept = 'image/*';
    cameraInput.setAttribute('capture', 'environment');
    cameraInput.id = 'camera';
    cameraInput.className = 'sr-only';
    cameraInput.tabIndex = -1;
    cameraInput.setAttribute('aria-hidden', 'true');
    const pickButton = document.createElement('button');
    pickButton.type = 'button';
    pickButton.className = 'button button-quiet button-small';
    pickButton.id = 'pick-images';
    pickButton.textContent = t('images.choose');
    pickButton.setAttribute('aria-describedby', 'images-hint images-error');
    const cameraButton = document.createElement('button');
    cameraButton.type = 'button';
    cameraButton.className = 'button button-quiet button-small camera';
    cameraButton.id = 'take-photo';
    cameraButton.textContent = t('images.camera');
    zone.append(zoneText, pickButton, cameraButton, pickInput, cameraInput);
    const previews = document.createElement('ul');
    previews.className = 'previews';
    previews.id = 'previews';
    previews.setAttribute('aria-labelledby', 'attach-label');
    const imagesError = document.createElement('p');
    imagesError.className = 'field-error';
    imagesError.id = 'images-error';
    imagesError.setAttribute('role', 'alert');
    imagesError.hidden = true;
    const imagesStatus = document.createElement('p');
    imagesStatus.className = 'sr-only';
    imagesStatus.setAttribute('aria-live', 'polite');
    attachArea.append(attachLabel, attachHint, zone, previews, imagesError, imagesStatus);
    const plainAttach = $('attach');
    const serverImagesError = plainAttach && plainAttach.querySelector('.field-error');
    if (serverImagesError && !serverImagesError.hidden) {
      imagesError.textContent = serverImagesError.textContent;
      imagesError.hidden = false;
    }
    if (plainAttach) plainAttach.replaceWith(attachArea);
    else form.insertBefore(attachArea, errorBox);

    const showImagesError = (message) => {
      imagesError.textContent = message;
      imagesError.hidden = !message;
    };

    const renderPreviews = () => {
      previews.replaceChildren(
        ...attached.map((item) => {
          const li = document.createElement('li');
          li.className = 'preview';
          const img = document.createElement('img');
          img.src = item.url;
          img.alt = item.file.name || t('images.label');
          const name = document.createElement('span');
          name.className = 'preview-name';
          name.textContent = item.file.name;
          const remove = document.createElement('button');
          remove.type = 'button';
          remove.className = 'preview-remove';
          remove.textContent = '×';
          remove.setAttribute('aria-label', t('images.remove', { name: item.file.name || t('images.label') }));
          remove.addEventListener('click', () => {
            const i = attached.indexOf(item);
            if (i >= 0) attached.splice(i, 1);
            if (item.url.startsWith('blob:')) URL.revokeObjectURL(item.url);
            renderPreviews();
            showImagesError('');
            imagesStatus.textContent = t('images.removed', { name: item.file.name || t('images.label') });
            (previews.querySelector('.preview-remove') || pickButton).focus();
          });
          li.append(img, name, remove);
          return li;
        }),
      );
      previews.hidden = attached.length === 0;
    };

    // addFiles checks each file before anything is uploaded: an image, of an
    // accepted type by its bytes, small enough, and not one too many.
    const addFiles = async (files) => {
      if (closed || sending) return;
      showImagesError('');
      for (const file of files) {
        const name = file.name || t('images.label');
        if (attached.length >= maxImages) {
          showImagesError(t('images.tooMany', { count: maxImages }));
          break;
        }
        const type = await sniff(file);
        if (!type) {
          showImagesError(t('images.notImage', { name }));
          continue;
        }
        if (file.size > maxImageBytes) {
          showImagesError(t('images.tooBig', { name, actual: sizeText(file.size), size: sizeText(maxImageBytes) }));
          continue;
        }
        const url = transport.previewURL ? await transport.previewURL(file) : URL.createObjectURL(file);
        if (closed) return;
        attached.push({ file, type, url });
        imagesStatus.textContent = t('images.added', { name });
      }
      renderPreviews();
    };

    pickButton.addEventListener('click', () => pickInput.click());
    cameraButton.addEventListener('click', () => cameraInput.click());
    for (const input of [pickInput, cameraInput]) {
      input.addEventListener('change', () => {
        addFiles([...input.files]);
        input.value = '';
      });
    }
    // Paste anywhere on the page; text pastes are left alone.
    document.addEventListener('paste', (event) => {
      const files = [...((event.clipboardData && event.clipboardData.files) || [])];
      if (files.length === 0 || closed) return;
      event.preventDefault();
      addFiles(files);
    }, { signal: lifetime.signal });
    // Drop anywhere on the card.
    const hasFiles = (event) => event.dataTransfer && [...event.dataTransfer.types].includes('Files');
    card.addEventListener('dragover', (event) => {
      if (!hasFiles(event) || closed) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = 'copy';
      zone.classList.add('is-over');
    });
    card.addEventListener('dragleave', (event) => {
      if (!card.contains(event.relatedTarget)) zone.classList.remove('is-over');
    });
    card.addEventListener('drop', (event) => {
      zone.classList.remove('is-over');
      if (!hasFiles(event) || closed) return;
      event.preventDefault();
      addFiles([...event.dataTransfer.files]);
    });
    renderPreviews();

    const readBase64 = (file) =>
      new Promise((ok, fail) => {
        const reader = new FileReader();
        reader.onload = () => ok(String(reader.result).replace(/^data:[^,]*,/, ''));
        reader.onerror = () => fail(reader.error);
        reader.readAsDataURL(file);
      });

    // ---- Submitting -------------------------------------------------------------

    // sentRow adds a row to the "what you sent" list.
    const sentRow = (label, build) => {
      const row = document.createElement('div');
      const dt = document.createElement('dt');
      dt.textContent = label;
      const dd = document.createElement('dd');
      build(dd);
      row.append(dt, dd);
      $('sent').querySelector('dl').append(row);
    };

    const formatValue = (f, value) => {
      if (f.control === 'checkbox') return value ? t('field.yes') : t('field.no');
      const labelOf = (v) => {
        const select = f.inputs.find((i) => i.tagName === 'SELECT');
        if (select) {
          const option = [...select.options].find((o) => o.value === v);
          return option ? option.textContent : String(v);
        }
        const input = f.inputs.find((i) => i.value === v);
        const label = input && input.closest('label');
        return label ? label.textContent.trim() : String(v);
      };
      if (Array.isArray(value)) return value.map(labelOf).join(', ');
      if (f.control === 'radios' || f.control === 'select') return labelOf(value);
      if (f.control === 'datetime-local') return formatTime(value);
      return String(value);
    };

    const showSubmitted = (answer, submittedAt) => {
      const list = $('sent-options');
      list.replaceChildren(
        ...answer.selected.map((option) => {
          const item = document.createElement('li');
          item.textContent = option;
          return item;
        }),
      );
      $('sent-options-row').hidden = answer.selected.length === 0;
      if (answer.values.length) {
        sentRow(t('view.submitted.values'), (dd) => {
          const inner = document.createElement('dl');
          inner.className = 'sent-values';
          for (const [label, text] of answer.values) {
            const dt = document.createElement('dt');
            dt.textContent = label;
            const value = document.createElement('dd');
            value.textContent = text;
            inner.append(dt, value);
          }
          dd.append(inner);
        });
      }
      if (answer.decision) {
        sentRow(t('view.submitted.decision'), (dd) => {
          dd.textContent = answer.decision === 'approve' ? t('view.submitted.approved') : t('view.submitted.denied');
        });
      }
      if (answer.reason.trim()) {
        sentRow(t('view.submitted.reason'), (dd) => {
          dd.className = 'sent-text';
          dd.textContent = answer.reason.trim();
        });
      }
      $('sent-text').textContent = answer.text.trim();
      $('sent-text-row').hidden = answer.text.trim() === '';
      if (answer.images.length) {
        sentRow(t('view.submitted.images'), (dd) => {
          const ul = document.createElement('ul');
          ul.className = 'previews sent-images';
          for (const item of answer.images) {
            const li = document.createElement('li');
            li.className = 'preview';
            const img = document.createElement('img');
            img.src = item.url;
            img.alt = item.file.name || t('images.label');
            li.append(img);
            ul.append(li);
          }
          dd.append(ul);
        });
      }
      setSentAt(submittedAt || new Date(now()).toISOString());
      $('sent').hidden = false;
      finish('submitted', true);
    };

    const finishedBy = {
      ALREADY_SUBMITTED: 'completed',
      SESSION_EXPIRED: 'expired',
      SESSION_CANCELLED: 'cancelled',
      SESSION_NOT_FOUND: 'gone',
    };

    // sendAnswer sends what the form holds; pressed is the button that sent
    // it (an approval's decision).
    const sendAnswer = async (pressed) => {
      if (sending || closed) return;

      const decision = approval ? (pressed && pressed.value) || '' : '';
      const boxes = [...form.querySelectorAll('input[name="selectedOptions"]')];
      const selected = boxes.filter((box) => box.checked).map((box) => box.value);
      const text = textarea.value;
      const n = charCount(text);

      let firstBad = null;
      const values = {};
      const shown = [];
      for (const f of fields) {
        const problem = fieldProblem(f);
        showFieldError(f, problem);
        if (problem && !firstBad) firstBad = f;
        const value = fieldValue(f);
        if (value !== undefined) {
          values[f.name] = value;
          const label = f.el.querySelector('legend, .field-label, .option-text');
          shown.push([label ? label.firstChild.textContent.trim() : f.name, formatValue(f, value)]);
        }
      }
      if (firstBad) {
        showError(t('error.fields'));
        (firstBad.inputs.find((i) => i.checked) || firstBad.inputs[0]).focus();
        return;
      }
      if (!approval && fields.length === 0 && selected.length === 0 && text.trim() === '' && attached.length === 0) {
        showError(t('error.empty'), boxes[0] || textarea);
        return;
      }
      if (n > max) {
        showError(t('error.tooLong', { over: n - max, max }), textarea);
        return;
      }
      errorBox.hidden = true;

      const body = {};
      if (approval) {
        body.decision = decision;
        if (text.trim() !== '') body.reason = text;
      } else {
        if (selected.length > 0) body.selectedOptions = selected;
        if (fields.length > 0) body.values = values;
        if (text.trim() !== '') body.freeText = text;
      }
      const images = attached.slice();

      setSending(true, pressed);
      deferredStatus = '';
      let response;
      let payload = null;
      try {
        if (images.length > 0) {
          body.images = await Promise.all(
            images.map(async (item) => ({ data: await readBase64(item.file), mimeType: item.type, name: item.file.name || '' })),
          );
        }
        if (transport.submit) {
          const sent = await transport.submit(body);
          response = { ok: sent.ok, status: sent.status };
          payload = sent.payload;
        } else {
          response = await fetch(cfg.submitUrl, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
            body: JSON.stringify(body),
            credentials: 'same-origin',
            cache: 'no-store',
          });
          payload = await response.json().catch(() => null);
        }
      } catch {
        setSending(false);
        showError(t('error.NETWORK'));
        return;
      }
      setSending(false);

      if (response.ok && payload && payload.success) {
        showSubmitted(
          { selected, text: approval ? '' : text, values: shown, decision, reason: approval ? text : '', images },
          payload.data && payload.data.submittedAt,
        );
        return;
      }
      const error = (payload && payload.error) || {};
      let code = error.code || '';
      if (!code && response.status === 429) code = 'RATE_LIMITED';
      if (!code && response.status === 413) code = 'PAYLOAD_TOO_LARGE';
      if (!code && response.status >= 500) code = 'SERVICE_UNAVAILABLE';
      if (finishedBy[code]) {
        finish(finishedBy[code], true);
        return;
      }
      if (deferredStatus) {
        applyStatus(deferredStatus);
        if (closed) return;
      }
      const fullField = String((error.details && error.details.field) || '');
      const field = fullField.split('[')[0];
      if (code === 'INVALID_REQUEST' && field.startsWith('values.')) {
        const f = fields.find((x) => `values.${x.name}` === field);
        if (f) {
          showFieldError(f, fieldProblem(f) || 'invalid');
          showError(t('error.fields'));
          f.inputs[0].focus();
          return;
        }
      }
      if (code === 'INVALID_REQUEST' && field === 'images') {
        showImagesError(t('images.refused', { count: maxImages, size: sizeText(maxImageBytes) }));
      }
      const group = field.startsWith('values.') ? 'values' : field;
      showError(errorMessage(code, group), field === 'freeText' || field === 'reason' ? textarea : null);
    };

    form.addEventListener('submit', (event) => {
      if (!cfg.submitUrl && !transport.submit) return; // let the browser post the plain form
      event.preventDefault();
      sendAnswer(event.submitter || submitButton);
    });
    // A sandboxed frame without allow-forms (the MCP App's, in some hosts)
    // never fires submit: there the buttons send the answer themselves.
    if (transport.submit) {
      for (const button of buttons) {
        button.addEventListener('click', (event) => {
          event.preventDefault();
          sendAnswer(button);
        });
      }
    }

    // ---- Countdown -------------------------------------------------------------

    let countdownTimer = 0;

    const formatLeft = (ms) => {
      const total = Math.max(0, Math.ceil(ms / 1000));
      const hours = Math.floor(total / 3600);
      const minutes = Math.floor((total % 3600) / 60);
      const seconds = String(total % 60).padStart(2, '0');
      return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
    };

    const tick = () => {
      const left = expiresAt - now();
      if (Number.isNaN(left)) return;
      if (left <= 0) {
        countdownText.textContent = t('countdown.ended');
        if (sending) {
          countdownTimer = setTimeout(tick, 500);
          return;
        }
        // The deadline is the server's rule too; show it now, then ask the
        // server once in case an answer beat the clock.
        finish('expired', false);
        checkOnce();
        return;
      }
      countdownText.textContent = t('countdown.left', { time: formatLeft(left) });
      countdown.classList.toggle('is-urgent', left < 60000);
      countdownTimer = setTimeout(tick, (left % 1000) + 20);
    };

    const stopCountdown = () => clearTimeout(countdownTimer);

    // ---- Live updates ------------------------------------------------------------

    let socket = null;
    let socketTries = 0;
    let pingTimer = 0;
    let polling = false;
    let pollTimer = 0;
    let pollDelay = 3000;
    const pollBase = 3000;
    const pollMax = 30000;

    const fetchState = async () => {
      if (transport.state) return transport.state();
      const response = await fetch(cfg.stateUrl, {
        headers: { Accept: 'application/json' },
        credentials: 'same-origin',
        cache: 'no-store',
      });
      if (response.status === 404) return { status: 'gone' };
      if (!response.ok) throw new Error(`state: HTTP ${response.status}`);
      const body = await response.json();
      return body && body.data && typeof body.data === 'object' ? body.data : body;
    };

    const poll = async () => {
      if (!polling) return;
      if (!document.hidden) {
        try {
          const current = await fetchState();
          pollDelay = pollBase;
          applyStatus(current.status, current.expiresAt);
        } catch {
          pollDelay = Math.min(pollDelay * 2, pollMax);
        }
      }
      if (polling) pollTimer = setTimeout(poll, pollDelay);
    };

    const startPolling = () => {
      if (polling || closed || !cfg.stateUrl) return;
      polling = true;
      pollDelay = pollBase;
      poll();
    };

    const stopPolling = () => {
      polling = false;
      clearTimeout(pollTimer);
    };

    const checkOnce = async () => {
      if (!cfg.stateUrl && !transport.state) return;
      try {
        const current = await fetchState();
        if (current.status && current.status !== 'pending' && state !== 'submitted') {
          showView(viewForStatus(current.status), false);
        }
      } catch {
        // The expired view stands; nothing better is known.
      }
    };

    const onSocketMessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      const data = (message && message.data) || {};
      if (data.sessionId && cfg.sessionId && data.sessionId !== cfg.sessionId) return;
      switch (message.type) {
        case 'connection_established':
          applyStatus(data.status);
          break;
        case 'session_status_changed':
          applyStatus(data.newStatus);
          break;
        case 'feedback_submitted':
          applyStatus('completed');
          break;
        case 'session_expired':
          applyStatus('expired');
          break;
        default:
          break;
      }
    };

    const connect = () => {
      if (closed) return;
      let url;
      try {
        url = new URL(cfg.wsUrl, window.location.href);
      } catch {
        startPolling();
        return;
      }
      if (url.protocol === 'https:') url.protocol = 'wss:';
      if (url.protocol === 'http:') url.protocol = 'ws:';
      url.searchParams.set('token', cfg.wsToken);
      if (!url.searchParams.has('clientType')) url.searchParams.set('clientType', 'web');
      try {
        socket = new WebSocket(url.href);
      } catch {
        startPolling();
        return;
      }
      socket.addEventListener('open', () => {
        socketTries = 0;
        stopPolling();
        pingTimer = setInterval(() => {
          if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: 'ping' }));
        }, 25000);
      });
      socket.addEventListener('message', onSocketMessage);
      socket.addEventListener('close', (event) => {
        clearInterval(pingTimer);
        socket = null;
        if (closed) return;
        // 4001: the page's token ran out; it will not open a socket again.
        if (event.code === 4001) socketTries = 5;
        // Poll while the socket is down; it may come back (the token is short
        // lived, so only a few times).
        startPolling();
        if (socketTries < 5) {
          setTimeout(connect, Math.min(pollMax, 1000 * 2 ** socketTries));
          socketTries++;
        }
      });
    };

    let stopWatch = null;

    const stopLive = () => {
      if (stopWatch) {
        stopWatch();
        stopWatch = null;
      }
      stopPolling();
      clearInterval(pingTimer);
      if (socket) {
        const s = socket;
        socket = null;
        s.close();
      }
    };

    document.addEventListener('visibilitychange', () => {
      if (document.hidden || closed) return;
      clearTimeout(countdownTimer);
      tick();
      if (polling) {
        clearTimeout(pollTimer);
        poll();
      }
    }, { signal: lifetime.signal });
    window.addEventListener('online', () => {
      if (polling) {
        clearTimeout(pollTimer);
        pollDelay = pollBase;
        poll();
      }
    }, { signal: lifetime.signal });

    tick();
    if (!closed) {
      if (transport.watch) stopWatch = transport.watch(applyStatus);
      else if (cfg.wsUrl && cfg.wsToken && 'WebSocket' in window) connect();
      else startPolling();
    }
    return () => {
      lifetime.abort();
      closed = true;
      stopLive();
      stopCountdown();
    };
  };

  window.feedbackd = Object.freeze({ start });
  const dataEl = $('page-data');
  if (dataEl) start(JSON.parse(dataEl.textContent));
})();
