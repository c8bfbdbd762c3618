/* libsyndisco.so is made of libsyndisco.a's objects (linked whole); a
 * shared library target needs one source of its own. */
typedef int sd_shared_stub_unused;
