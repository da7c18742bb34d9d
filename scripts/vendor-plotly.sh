#!/bin/sh
# Re-create the dashboard's vendored plotly.js in dashboard/assets/ from npm, at pinned versions:
#   scripts/vendor-plotly.sh          fetch (npm pack), check the sha256 below, write the assets
#   scripts/vendor-plotly.sh --check  only check the sha256 of the files already in the assets
#
# Why: Dash loads its own full plotly.min.js (1.47 MB gzip) only when window.Plotly is undefined,
# and it includes every .js file of dashboard/assets/ in the page, in alphabetical order. So the
# page gets, from the dashboard's own server (never a CDN):
#   plotly-1-basic.min.js  the partial bundle plotly.js-basic-dist-min (scatter, bar, pie),
#                          verbatim, at the SAME version as the plotly.js the Python `plotly`
#                          package ships (plotly/package_data/plotly.min.js; checked below);
#   plotly-2-locale-vi.js  plotly.js-locales' vi.js wrapped as a browser script that registers
#                          it (as plotly.js's own dist/plotly-locale-*.js do), with
#                          format.decimal "," and format.thousands "." added (CLDR vi; the
#                          upstream file has neither, so plotly would write 1.5 for 1,5);
#   PLOTLY-LICENSE         the packages' MIT licence text (the minified file names it only).
# Charts use the locale with dcc.Graph(config={"locale": "vi"}).
#
# Updating is deliberate: change the versions, run this, read the diff, then paste the new
# sha256 it prints into PINNED. tests/test_dashboard_assets.py checks the assets against PINNED.
set -eu

BASIC_VERSION=4.1.1  # plotly.js-basic-dist-min: keep equal to the Python plotly's plotly.js
LOCALES_VERSION=3.7.0  # plotly.js-locales (published less often than plotly.js; vi.js unchanged)

# sha256 of each file this script writes into dashboard/assets (sha256sum -c format)
PINNED="
99784e3abfb07b142a15e521a439e6d9addceadb3f79553fd24c72774f0649ba  plotly-1-basic.min.js
eef34629198883b9d70e15699e97413d78687544e4fcfb89c1bc238ecd032292  plotly-2-locale-vi.js
8c45d9eaf50c2f72dd9c7ab9ef440788ba58a3538484b5c51c1f17d5128752e7  PLOTLY-LICENSE
"

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ASSETS="$ROOT/dashboard/assets"
PYTHON=${PYTHON:-"$ROOT/.venv/bin/python"}

sha256_check() {  # $1: folder holding the files of PINNED
    if command -v sha256sum >/dev/null 2>&1; then
        check="sha256sum -c --strict --quiet -"
    else
        check="shasum -a 256 -c -s -"
    fi
    printf '%s\n' "$PINNED" | sed '/^$/d' | (cd "$1" && $check)
}

sha256_print() {  # $1: folder; prints the lines to paste into PINNED
    for name in plotly-1-basic.min.js plotly-2-locale-vi.js PLOTLY-LICENSE; do
        if command -v sha256sum >/dev/null 2>&1; then
            (cd "$1" && sha256sum "$name")
        else
            (cd "$1" && shasum -a 256 "$name")
        fi
    done
}

if [ "${1:-}" = "--check" ]; then
    sha256_check "$ASSETS" && echo "vendor-plotly: dashboard/assets matches the pinned sha256"
    exit
fi

# the partial bundle must be the plotly.js version the Python plotly package was built for
if [ -x "$PYTHON" ]; then
    shipped=$("$PYTHON" -c 'import importlib.resources as r, re
text = (r.files("plotly") / "package_data" / "plotly.min.js").open(encoding="utf-8").read(300)
print(re.search(r"plotly\.js v(\S+)", text).group(1))')
    if [ "$shipped" != "$BASIC_VERSION" ]; then
        echo "vendor-plotly: the Python plotly ships plotly.js $shipped, BASIC_VERSION is" \
            "$BASIC_VERSION: update BASIC_VERSION and PINNED together" >&2
        exit 1
    fi
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
(cd "$tmp" && npm pack --silent \
    "plotly.js-basic-dist-min@$BASIC_VERSION" "plotly.js-locales@$LOCALES_VERSION" >/dev/null)
mkdir "$tmp/basic" "$tmp/locales" "$tmp/out"
tar -xzf "$tmp/plotly.js-basic-dist-min-$BASIC_VERSION.tgz" -C "$tmp/basic"
tar -xzf "$tmp/plotly.js-locales-$LOCALES_VERSION.tgz" -C "$tmp/locales"

cp "$tmp/basic/package/plotly-basic.min.js" "$tmp/out/plotly-1-basic.min.js"
cp "$tmp/basic/package/LICENSE" "$tmp/out/PLOTLY-LICENSE"
cmp -s "$tmp/basic/package/LICENSE" "$tmp/locales/package/LICENSE" || {
    echo "vendor-plotly: the two packages' licences differ: check PLOTLY-LICENSE" >&2
    exit 1
}

# vi.js is a CommonJS module: write it as a script that registers it with window.Plotly (or
# queues it in window.PlotlyLocales, which plotly.js registers when it loads), non-ASCII
# characters as \u escapes so the file reads the same whatever charset it is served with.
copyright=$(grep -m1 '^Copyright' "$tmp/locales/package/LICENSE")
node - "$tmp/locales/package/vi.js" "$LOCALES_VERSION" "$copyright" \
    "$tmp/out/plotly-2-locale-vi.js" <<'EOF'
const fs = require("fs");
const [src, version, copyright, out] = process.argv.slice(2);
const locale = require(src);
if (locale.name !== "vi" || locale.format.decimal !== undefined) {
    throw new Error("vi.js changed upstream: review the decimal and thousands patch");
}
locale.format.decimal = ",";  // CLDR vi: 1,5
locale.format.thousands = ".";  // CLDR vi: 10.000
const ascii = (text) =>
    text.replace(/[\u0080-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
const body = ascii(JSON.stringify(locale, null, 4)).replace(/\n/g, "\n    ");
fs.writeFileSync(
    out,
    `/**
* plotly.js locale vi (Vietnamese), from npm plotly.js-locales@${version} vi.js
* ${copyright}
* Licensed under the MIT license (PLOTLY-LICENSE)
* Written by scripts/vendor-plotly.sh, which added format.decimal and format.thousands (CLDR vi)
*/
(function () {
    "use strict";
    var locale = ${body};
    if (typeof window.Plotly === "undefined") {
        window.PlotlyLocales = window.PlotlyLocales || [];
        window.PlotlyLocales.push(locale);
    } else {
        window.Plotly.register(locale);
    }
})();
`,
);
EOF

if ! sha256_check "$tmp/out"; then
    echo "vendor-plotly: the result does not match PINNED; if the update is meant, paste:" >&2
    sha256_print "$tmp/out" >&2
    exit 1
fi
mkdir -p "$ASSETS"
cp "$tmp/out/plotly-1-basic.min.js" "$tmp/out/plotly-2-locale-vi.js" "$tmp/out/PLOTLY-LICENSE" \
    "$ASSETS/"
echo "vendor-plotly: wrote plotly.js-basic-dist-min@$BASIC_VERSION and" \
    "plotly.js-locales@$LOCALES_VERSION vi into dashboard/assets"
