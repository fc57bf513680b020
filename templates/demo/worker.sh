#!/bin/sh
# A demo worker for `git mission demo`, run through the exec agent: it reads which feature
# it is building from the environment git mission gives every agent run, writes that
# feature's file, commits it and leaves a handoff. Feature F3 fails its first attempt on
# purpose, to show a retry with the failure's notes in the next prompt.
set -eu
feature="$GIT_MISSION_FEATURE"
case "$feature" in
  F1) file=src/greeting.txt; text="Hello" ;;
  F2) file=src/farewell.txt; text="Goodbye" ;;
  F3) file=src/names.txt; text="Ada Grace Linus" ;;
  F4) file=src/greet.sh; text='for n in $(cat src/names.txt); do echo "$(cat src/greeting.txt), $n"; done' ;;
  F5) file=docs/usage.md; text="Run sh src/greet.sh to greet everyone." ;;
  *) echo "unknown feature $feature" >&2; exit 2 ;;
esac
if [ "$feature" = F3 ] && [ "$GIT_MISSION_ATTEMPT" = 1 ]; then
  echo "F3: simulated failure on the first attempt (the retry will succeed)" >&2
  exit 1
fi
if [ "$feature" = F4 ] && [ ! -f src/names.txt ]; then
  echo "F4 needs src/names.txt from F3" >&2
  exit 1
fi
mkdir -p "$(dirname "$file")"
printf '%s\n' "$text" > "$file"
git add "$file"
git commit -q -m "$feature: add $file"
printf -- '---\nstatus: done\n---\nAdded %s (run %s, attempt %s).\n' "$file" "$GIT_MISSION_RUN" "$GIT_MISSION_ATTEMPT" > "$GIT_MISSION_HANDOFF_FILE"
