#!/usr/bin/env bash
# check_layers.sh: the layering rule of sim/ (README, "Architecture"), checked on the include
# graph: below the report layer the core takes and returns structs, so no file in sim/step,
# sim/serve or sim/search includes cJSON, Lua or a front end's header, and nothing in sim/
# includes cli/, lua/, calibrate/ or engine/.
set -uo pipefail
cd "${MOESIM_HOME:-.}"
bad=$( (grep -nE '#include *[<"](cjson/|lua|lauxlib|lualib)' sim/step/* sim/serve/* sim/search/*;
        grep -nE '#include *"(cli|lua|calibrate|engine)/' $(find sim -name '*.[ch]')) 2>/dev/null)
if [ -n "$bad" ]; then
  echo "check_layers: a core file includes a layer above it:"
  echo "$bad"
  echo "layers: 0 passed, 1 failed"
  exit 1
fi
echo "layers: 1 passed, 0 failed"
