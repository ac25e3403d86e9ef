#!/bin/sh
# Draws the inbox's PWA icons (web/static/icon-192.png, icon-512.png) from
# web/pwa/icon.svg with headless Chromium. The icon is full-bleed, with the
# mark inside the central 80% circle, so launchers may mask it ("maskable").
# Run from the repository root after changing icon.svg; commit the PNGs.
set -eu
chromium=${CHROMIUM:-/usr/bin/chromium}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for size in 192 512; do
  printf '<!doctype html><html><body style="margin:0"><img src="file://%s/web/pwa/icon.svg" width="%s" height="%s" style="display:block"></body></html>' \
    "$(pwd)" "$size" "$size" >"$tmp/icon.html"
  "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
    --window-size="$size,$size" --screenshot="$tmp/icon-$size.png" "file://$tmp/icon.html" >/dev/null 2>&1
  cp "$tmp/icon-$size.png" "web/static/icon-$size.png"
done
