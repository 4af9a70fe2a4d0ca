# Each binary maps only the libraries it uses (the brief: a process start is
# dear, and libcurl's tree alone costs ~13 ms and 6 MiB). Checks NEEDED:
#   cmake -DBIN=<file> -DFORBID="libudev;libcurl" [-DREQUIRE="libcurl"] -P check_links.cmake
# REQUIRE proves the check sees a library where one is meant to be linked.
execute_process(COMMAND readelf -d ${BIN} OUTPUT_VARIABLE dyn RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
	message(FATAL_ERROR "readelf -d ${BIN} failed: ${rc}")
endif()
foreach(lib ${FORBID})
	string(FIND "${dyn}" "[${lib}" at)
	if(NOT at EQUAL -1)
		message(FATAL_ERROR "${BIN} links ${lib}:\n${dyn}")
	endif()
endforeach()
foreach(lib ${REQUIRE})
	string(FIND "${dyn}" "[${lib}" at)
	if(at EQUAL -1)
		message(FATAL_ERROR "${BIN} does not link ${lib}:\n${dyn}")
	endif()
endforeach()
message(STATUS "${BIN} links none of: ${FORBID}; links: ${REQUIRE}")
