# Turns a file into a C++ source holding its bytes, so the binary needs no files at run time.
#   cmake -DINPUT=web/waiting.html -DOUTPUT=waiting_html.cpp -DSYMBOL=waiting_html -P embed.cmake
# Defines anteroom::admission::embedded::<SYMBOL> (NUL-terminated) and <SYMBOL>_size.
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" digits)
math(EXPR size "${digits} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
# 16 bytes to a line keeps compiler diagnostics and diffs readable.
string(REPEAT "'[^']*'," 16 line)
string(REGEX REPLACE "(${line})" "\\1\n    " bytes "${bytes}")
file(WRITE "${OUTPUT}.tmp"
  "// Generated from ${INPUT} by admission/embed.cmake; do not edit.\n"
  "#include <cstddef>\n\n"
  "namespace anteroom::admission::embedded {\n\n"
  "extern const char ${SYMBOL}[] = {\n    ${bytes}'\\0'};\n"
  "extern const std::size_t ${SYMBOL}_size = ${size};\n\n"
  "}  // namespace anteroom::admission::embedded\n")
# Only a changed file is rewritten, so an unchanged template does not recompile anything.
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
