#!/usr/bin/env bash
# Renders a run folder's report.html with headless Chromium to a full-page PNG,
# to check that the report looks right in a real browser.
#
#   scripts/report-screenshot.sh DIR [OUT.png]
#
# DIR is a run's folder (it holds report.html); OUT defaults to DIR/report.png.
# Needs Debian's `chromium` package (apt-get install chromium); set CHROMIUM to
# use another Chromium or Chrome binary. WIDTH (default 1280) sets the window
# width in CSS pixels.
#
# The page's height is measured first: a throwaway page (with a script; the
# report itself has none) loads the report in an iframe of the same width and
# prints its height, then the screenshot is taken with a window that tall.
# Chromium runs with no network features and a throwaway profile, so the check
# also shows that the report needs nothing from outside: a missing font, image
# or style would show in the picture.
set -euo pipefail

usage() { echo "usage: $0 DIR [OUT.png]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
dir=$1
report="$dir/report.html"
[ -f "$report" ] || { echo "$0: no report.html in $dir" >&2; exit 1; }
out=${2:-$dir/report.png}
width=${WIDTH:-1280}

browser=${CHROMIUM:-}
if [ -z "$browser" ]; then
    for candidate in chromium chromium-browser google-chrome; do
        if command -v "$candidate" >/dev/null 2>&1; then browser=$candidate; break; fi
    done
fi
if [ -z "$browser" ] || ! command -v "$browser" >/dev/null 2>&1; then
    echo "$0: Chromium not found; install it with: apt-get install chromium" >&2
    exit 1
fi

abs_report=$(realpath "$report")
out_dir=$(dirname -- "$out")
mkdir -p "$out_dir"
abs_out="$(realpath "$out_dir")/$(basename -- "$out")"
rm -f "$abs_out"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
       --disable-background-networking --disable-component-update --disable-sync
       --hide-scrollbars --disable-extensions --mute-audio)

# The report's URL, with the characters that would break a file:// URL or the
# HTML attribute below percent-encoded.
url_path=$(printf '%s' "$abs_report" | sed -e 's/%/%25/g' -e 's/ /%20/g' -e 's/#/%23/g' \
    -e 's/?/%3F/g' -e 's/"/%22/g' -e "s/'/%27/g" -e 's/</%3C/g' -e 's/>/%3E/g' -e 's/&/%26/g')
url="file://$url_path"

# 1. Measure the page's height at this width.
cat >"$work/measure.html" <<HTML
<!DOCTYPE html><html><head><meta charset="utf-8"><style>html,body{margin:0}</style></head><body>
<iframe id="f" scrolling="no" src="$url" style="width:${width}px;height:600px;border:0"></iframe>
<script>
document.getElementById('f').addEventListener('load', function () {
  var doc = this.contentDocument, h = 0;
  if (doc) h = Math.max(doc.documentElement.scrollHeight, doc.body ? doc.body.scrollHeight : 0);
  var p = document.createElement('p');
  p.textContent = 'PAGE' + 'HEIGHT=' + h;
  document.body.appendChild(p);
});
</script></body></html>
HTML
height=$("$browser" "${flags[@]}" --user-data-dir="$work/profile-measure" --allow-file-access-from-files \
    --window-size="$width,600" --virtual-time-budget=10000 --dump-dom "file://$work/measure.html" 2>/dev/null \
    | sed -n 's/.*PAGEHEIGHT=\([0-9][0-9]*\).*/\1/p' | head -n1 || true)
if [ -z "$height" ] || [ "$height" -le 0 ]; then
    height=8000
    echo "$0: could not measure the page's height; using $height px" >&2
fi

# 2. The screenshot, with a window as tall as the page.
log="$work/chromium.log"
if ! "$browser" "${flags[@]}" --user-data-dir="$work/profile-shot" --window-size="$width,$height" \
        --screenshot="$abs_out" "$url" >"$log" 2>&1 || [ ! -s "$abs_out" ]; then
    echo "$0: Chromium failed to take the screenshot:" >&2
    cat "$log" >&2
    exit 1
fi
echo "$abs_out (${width}x${height})"
