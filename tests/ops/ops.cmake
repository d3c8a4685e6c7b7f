# Operations artefacts checked against the built binary (tests/ops/), label ops. Included from
# tests/CMakeLists.txt; paths are relative to this file.

# conf/anteroom.service, pointed at the built anteroom: `systemd-analyze verify` prints nothing,
# `systemd-analyze security --offline` rates the sandbox, the settings the runbook relies on are
# there. Skipped (exit 77) where systemd-analyze is missing (Debian package systemd).
add_test(NAME ops.systemd_unit
         COMMAND /bin/bash ${CMAKE_CURRENT_LIST_DIR}/systemd_unit.sh --anteroom $<TARGET_FILE:anteroom>
                 --unit ${PROJECT_SOURCE_DIR}/conf/anteroom.service)
set_tests_properties(ops.systemd_unit PROPERTIES LABELS ops TIMEOUT 60 SKIP_RETURN_CODE 77)

# conf/grafana-dashboard.json: its structure, and every metric its PromQL references is in the
# /metrics of a running anteroom (a room, bot detection, the embedded booking backend, the admin
# listener with a token; port 0 everywhere).
add_test(NAME ops.grafana_metrics
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/grafana_metrics.py --anteroom $<TARGET_FILE:anteroom>
                 --dashboard ${PROJECT_SOURCE_DIR}/conf/grafana-dashboard.json)
set_tests_properties(ops.grafana_metrics PROPERTIES LABELS ops TIMEOUT 120)
