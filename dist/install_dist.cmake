# install_dist.cmake: renders the units and the sample configs at install time
# (run by `cmake --install` and by CPack through install(SCRIPT)), so that
# their paths follow the prefix of that install: `cmake --install --prefix P`
# gives P/bin/cetd in the units and P/etc/cetreg; the .deb (prefix /usr) gives
# /usr/bin/cetd and /etc/cetreg. SRC is the source dir (set by dist/CMakeLists.txt).
set(prefix "${CMAKE_INSTALL_PREFIX}")
if(prefix STREQUAL "/usr")
  set(CETREG_CONF_DIR /etc/cetreg)
  set(unit_dir /usr/lib/systemd/system)
else()
  set(CETREG_CONF_DIR "${prefix}/etc/cetreg")
  set(unit_dir "${prefix}/lib/systemd/system")
endif()
set(CMAKE_INSTALL_FULL_BINDIR "${prefix}/bin")
set(CETREG_WWW_DIR "${prefix}/share/cetreg/www")
set(dest "$ENV{DESTDIR}")

configure_file("${SRC}/dist/systemd/cetd.service.in" "${dest}${unit_dir}/cetd.service" @ONLY)
configure_file("${SRC}/dist/systemd/cetreg-edge.service.in" "${dest}${unit_dir}/cetreg-edge.service"
               @ONLY)
configure_file("${SRC}/dist/cetd.conf.in" "${dest}${CETREG_CONF_DIR}/cetd.conf" @ONLY)

# The packaged edge config: tools/edge/h2o.conf.in with the installed paths,
# ports 80 (redirect) and 443, a certificate that postinst makes if none.
set(USER_LINE "")
set(RUN_DIR /run/cetreg-edge)
set(LOG_DIR /var/log/cetreg-edge)
set(STATE_DIR /var/log/cetreg-edge)
set(THREADS 2)
set(MAX_CONNECTIONS 8192)
set(H2_STREAMS 16)
set(BODY_BYTES_MAX 16384)
set(BIND 0.0.0.0)
set(HTTP_PORT 80)
set(HTTPS_PORT 443)
set(HTTPS_PORT_SUFFIX "")
set(PUBLIC_HOST localhost)
set(CERT_FILE "${CETREG_CONF_DIR}/tls/cert.pem")
set(KEY_FILE "${CETREG_CONF_DIR}/tls/key.pem")
set(SOCKET /run/cetd/cetd.sock)
set(WWW_DIR "${CETREG_WWW_DIR}")
set(ASSET_MAX_AGE 600)
set(LIMIT_RB "${prefix}/share/cetreg/edge_limit.rb")
# kept equal to EDGE_ACCESS_LOG_FORMAT in tools/edge/edge.sh
set(ACCESS_LOG_FORMAT "ts=%{%Y-%m-%dT%H:%M:%S}t.%{msec_frac}t+00:00 level=info comp=edge event=request request_id=%{x-request-id}o method=%m path=\\\"%U%q\\\" status=%s bytes=%b duration_s=%{duration}x client=%h proto=%H")
configure_file("${SRC}/tools/edge/h2o.conf.in" "${dest}${CETREG_CONF_DIR}/h2o.conf" @ONLY)
message(STATUS "Installing: units in ${dest}${unit_dir}, settings in ${dest}${CETREG_CONF_DIR}")
