#!/bin/bash
# Stage a study's CSV as it is now and its page rebuilt from exactly that snapshot, while a background run keeps
# appending rows to the working file: scripts/snapshot_study.sh NAME CSV PAGE (e.g. superconvergence
# docs/results/superconvergence.csv docs/results/superconvergence.md). Commit afterwards.
set -euo pipefail
name=$1 csv=$2 page=$3
snap=$(mktemp -d)/$(basename "$csv")
cp "$csv" "$snap"
.venv/bin/aihwkit-sc study report "$name" --csv "$snap" --out "$page" --quiet
git add "$page"; for fig in "${page%.md}.png" "${page%.md}-pulses.png"; do [ -f "$fig" ] && git add "$fig"; done
git update-index --add --cacheinfo "100644,$(git hash-object -w "$snap"),$csv"
echo "staged $(($(wc -l < "$snap") - 1)) rows of $csv and $page rebuilt from them"
