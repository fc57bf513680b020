# Installs git-mission $GIT_MISSION_VERSION into ~/.cargo/bin: the released binary for this
# runner (checked against its SHA-256) when $GIT_MISSION_RELEASES has one, else built with
# cargo install from crates.io, or from $GIT_MISSION_GIT at $GIT_MISSION_GIT_REF.
set -euo pipefail
dest="${GIT_MISSION_BIN_DIR:-$HOME/.cargo/bin}"
mkdir -p "$dest"
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) target=x86_64-unknown-linux-musl ;;
  Linux-aarch64 | Linux-arm64) target=aarch64-unknown-linux-gnu ;;
  Darwin-x86_64) target=x86_64-apple-darwin ;;
  Darwin-arm64) target=aarch64-apple-darwin ;;
  *) target="" ;;
esac
if [ -n "${GIT_MISSION_RELEASES:-}" ] && [ -n "$target" ]; then
  name="git-mission-$target"
  url="$GIT_MISSION_RELEASES/v$GIT_MISSION_VERSION/$name.tar.gz"
  tmp="$(mktemp -d)"
  if curl -fsSL --retry 3 -o "$tmp/$name.tar.gz" "$url" \
    && curl -fsSL --retry 3 -o "$tmp/$name.tar.gz.sha256" "$url.sha256"; then
    want="$(cut -d ' ' -f 1 < "$tmp/$name.tar.gz.sha256")"
    if command -v sha256sum > /dev/null; then
      got="$(sha256sum "$tmp/$name.tar.gz" | cut -d ' ' -f 1)"
    else
      got="$(shasum -a 256 "$tmp/$name.tar.gz" | cut -d ' ' -f 1)"
    fi
    if [ -n "$want" ] && [ "$want" = "$got" ]; then
      tar -xzf "$tmp/$name.tar.gz" -C "$tmp"
      install -m 755 "$tmp/$name/git-mission" "$dest/git-mission"
      "$dest/git-mission" --version
      exit 0
    fi
    echo "::warning::$url does not match its checksum (SHA-256 $got, expected $want): building from source instead"
  else
    echo "::notice::no release binary at $url: building from source"
  fi
fi
if [ -n "${GIT_MISSION_GIT:-}" ]; then
  if [ -n "${GIT_MISSION_GIT_REF:-}" ]; then
    cargo install --locked --root "$dest/.." --git "$GIT_MISSION_GIT" --tag "$GIT_MISSION_GIT_REF" git-mission
  else
    cargo install --locked --root "$dest/.." --git "$GIT_MISSION_GIT" git-mission
  fi
else
  cargo install --locked --root "$dest/.." --version "=$GIT_MISSION_VERSION" git-mission
fi
"$dest/git-mission" --version
