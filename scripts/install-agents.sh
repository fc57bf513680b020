#!/usr/bin/env bash
# Installs the agent CLIs the real-agent conformance suite (tests/agents_real.rs) drives, at the
# versions pinned in tests/agents-real/ (npm lockfile) and below (PyPI), into target/agents/.
# Reuses an earlier install when the pins have not changed. Prints the PATH entries to use.
#
#   scripts/install-agents.sh            install (or reuse), then print "bin-dir:bin-dir"
set -euo pipefail
cd "$(dirname "$0")/.."

AIDER_VERSION="0.86.2"
dest="${CARGO_TARGET_DIR:-target}/agents"
stamp="$dest/installed"
want="$(cat tests/agents-real/package-lock.json; echo "aider-chat==$AIDER_VERSION"; python3 --version; node --version)"
want_sum="$(printf '%s' "$want" | sha256sum | cut -d' ' -f1)"

if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want_sum" ]; then
    rm -rf "$dest"
    mkdir -p "$dest/npm"
    cp tests/agents-real/package.json tests/agents-real/package-lock.json "$dest/npm/"
    echo "installing claude, codex, opencode, gemini (npm, from the lockfile) into $dest/npm" >&2
    # `npm install`, not `npm ci`: the lockfile pins every package, but npm's lockfile-only
    # resolution leaves out some platform packages (opencode-*) that `ci` then refuses.
    (cd "$dest/npm" && npm install --no-audit --no-fund --loglevel=error >&2)
    echo "installing aider-chat==$AIDER_VERSION (pip) into $dest/venv" >&2
    python3 -m venv "$dest/venv"
    "$dest/venv/bin/pip" install --quiet --disable-pip-version-check "aider-chat==$AIDER_VERSION" >&2
    # aider must not be found beside its venv's python by accident: expose only its launcher.
    mkdir -p "$dest/bin"
    ln -sf "../venv/bin/aider" "$dest/bin/aider"
    printf '%s' "$want_sum" > "$stamp"
fi
abs="$(cd "$dest" && pwd)"
for tool in claude codex opencode gemini; do
    "$abs/npm/node_modules/.bin/$tool" --version >/dev/null
done
"$abs/bin/aider" --version >/dev/null
echo "$abs/npm/node_modules/.bin:$abs/bin"
