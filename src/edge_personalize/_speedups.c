/*
 * Compiled fast path of the placeholder scanner in rewriting.py.
 *
 * markup_run() consumes HTML content in the data state, with no foreign
 * content open, up to the first construct that the Python scanner must
 * handle: a comment that may be a placeholder, a start tag that switches to
 * foreign content or to the PLAINTEXT state, or a token that does not end
 * before `endpos`. Raw text, RCDATA and script elements are consumed whole,
 * with the script escape states. It follows the WHATWG HTML tokenizer
 * (section "Tokenization") byte by byte where the pure-Python scanner uses
 * regular expressions. It may stop earlier than they would, because the
 * Python code reads any "<" it stops at with the general rules, and the
 * position it returns is always in the data state.
 *
 * The module is optional: rewriting.py falls back to its regular
 * expressions when it cannot be imported, and the tests compare both paths.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

typedef const unsigned char *bytes_ptr;

/* Byte classes inside a tag. */
enum { C_OTHER, C_SPACE, C_SLASH, C_GT, C_EQUALS, C_QUOTE };

/* Elements whose start tag the scanner must look at. */
enum { E_ORDINARY, E_RAW_TEXT, E_SCRIPT, E_HANDOFF };

static const unsigned char tag_class[256] = {
    ['\t'] = C_SPACE, ['\n'] = C_SPACE, ['\f'] = C_SPACE, ['\r'] = C_SPACE,
    [' '] = C_SPACE, ['/'] = C_SLASH, ['>'] = C_GT, ['='] = C_EQUALS,
    ['"'] = C_QUOTE, ['\''] = C_QUOTE,
};

static int
is_alpha(unsigned char c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

static int
is_space(unsigned char c)
{
    return tag_class[c] == C_SPACE;
}

/* Compare s[0:n] with the lower-case ASCII word, ignoring ASCII case. */
static int
equals_lower(bytes_ptr s, const char *word, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c >= 'A' && c <= 'Z') {
            c |= 0x20;
        }
        if (c != (unsigned char)word[i]) {
            return 0;
        }
    }
    return 1;
}

/*
 * Return the index after the ">" that ends the tag whose name starts at
 * s[i], or -1 when the tag does not end before `end`. The states follow the
 * tokenizer: "/" outside a value acts as the self-closing start tag state,
 * which either ends the tag or rereads the byte as before an attribute name.
 * A quote opens a value only in the before attribute value state.
 */
static Py_ssize_t
tag_end(bytes_ptr s, Py_ssize_t i, Py_ssize_t end)
{
    enum { TAG_NAME, BEFORE_NAME, NAME, AFTER_NAME, BEFORE_VALUE, UNQUOTED };
    int state = TAG_NAME;

    while (i < end) {
        unsigned char c = s[i];
        int cls = tag_class[c];

        if (cls == C_GT) {
            return i + 1;  /* outside a quoted value, ">" ends any tag */
        }
        switch (state) {
        case TAG_NAME:
            if (cls == C_SPACE || cls == C_SLASH) {
                state = BEFORE_NAME;
            }
            break;
        case BEFORE_NAME:
            if (cls != C_SPACE && cls != C_SLASH) {
                state = NAME;  /* "=" and quotes start a name here */
            }
            break;
        case NAME:
            if (cls == C_SPACE) {
                state = AFTER_NAME;
            }
            else if (cls == C_SLASH) {
                state = BEFORE_NAME;
            }
            else if (cls == C_EQUALS) {
                state = BEFORE_VALUE;
            }
            break;
        case AFTER_NAME:
            if (cls == C_SLASH) {
                state = BEFORE_NAME;
            }
            else if (cls == C_EQUALS) {
                state = BEFORE_VALUE;
            }
            else if (cls != C_SPACE) {
                state = NAME;
            }
            break;
        case BEFORE_VALUE:
            if (cls == C_QUOTE) {
                bytes_ptr close = memchr(s + i + 1, c, (size_t)(end - i - 1));
                if (close == NULL) {
                    return -1;
                }
                /* After a quoted value, anything but a space, "/" or ">"
                   is reread as the start of a name, as in BEFORE_NAME. */
                i = close - s;
                state = BEFORE_NAME;
            }
            else if (cls != C_SPACE) {
                state = UNQUOTED;
            }
            break;
        default: /* UNQUOTED */
            if (cls == C_SPACE) {
                state = BEFORE_NAME;
            }
            break;
        }
        i++;
    }
    return -1;
}

/* The start tags that matter here, with their names' lengths. */
static const struct {
    const char *name;
    Py_ssize_t length;
    int kind;
} special_elements[] = {
    {"script", 6, E_SCRIPT},     {"style", 5, E_RAW_TEXT},
    {"xmp", 3, E_RAW_TEXT},      {"iframe", 6, E_RAW_TEXT},
    {"noembed", 7, E_RAW_TEXT},  {"noframes", 8, E_RAW_TEXT},
    {"noscript", 8, E_RAW_TEXT}, {"title", 5, E_RAW_TEXT},
    {"textarea", 8, E_RAW_TEXT}, {"plaintext", 9, E_HANDOFF},
    {"svg", 3, E_HANDOFF},       {"math", 4, E_HANDOFF},
};

/* Classify the start tag name s[0:n], and set *name to its lower-case form. */
static int
element_kind(bytes_ptr s, Py_ssize_t n, const char **name)
{
    if (n < 3 || n > 9) {
        return E_ORDINARY;  /* the common case: no special name is this long */
    }
    size_t count = sizeof special_elements / sizeof special_elements[0];
    for (size_t k = 0; k < count; k++) {
        if (special_elements[k].length == n
            && equals_lower(s, special_elements[k].name, n)) {
            *name = special_elements[k].name;
            return special_elements[k].kind;
        }
    }
    return E_ORDINARY;
}

/* Return whether s[i:] starts with "script" then a space, "/" or ">". */
static int
is_script_name(bytes_ptr s, Py_ssize_t i, Py_ssize_t end)
{
    if (i + 6 >= end || !equals_lower(s + i, "script", 6)) {
        return 0;
    }
    int after_name = tag_class[s[i + 6]];
    return after_name == C_SPACE || after_name == C_SLASH || after_name == C_GT;
}

/*
 * Find the end tag "</name" followed by a space, "/" or ">" from s[i], and
 * return the index after that tag, or -1 when it does not end before `end`.
 */
static Py_ssize_t
element_end(bytes_ptr s, Py_ssize_t i, Py_ssize_t end, const char *name)
{
    Py_ssize_t n = (Py_ssize_t)strlen(name);

    while (i < end) {
        bytes_ptr lt = memchr(s + i, '<', (size_t)(end - i));
        if (lt == NULL) {
            return -1;
        }
        i = lt - s;
        if (i + 2 + n >= end) {
            return -1;
        }
        if (s[i + 1] == '/') {
            int after_name = tag_class[s[i + 2 + n]];
            if (equals_lower(s + i + 2, name, n)
                && (after_name == C_SPACE || after_name == C_SLASH
                    || after_name == C_GT)) {
                return tag_end(s, i + 2, end);
            }
        }
        i++;
    }
    return -1;
}

/*
 * Return the index after the end tag of the script whose text starts at
 * s[i], or -1 when it does not end before `end`. The text goes through the
 * script data, escaped and double escaped states. "<!--" escapes it, and
 * its dashes count towards a "-->" that ends the escape. "<script" in
 * escaped text escapes it twice. "</script" ends the script unless the text
 * is escaped twice, where it undoes one escape instead.
 */
static Py_ssize_t
script_end(bytes_ptr s, Py_ssize_t i, Py_ssize_t end)
{
    enum { DATA, ESCAPED, DOUBLE_ESCAPED };
    int state = DATA;

    while (i < end) {
        unsigned char c = s[i];

        if (state == DATA) {
            bytes_ptr lt = memchr(s + i, '<', (size_t)(end - i));
            if (lt == NULL || lt - s + 3 >= end) {
                return -1;
            }
            i = lt - s;
            if (s[i + 1] == '!' && s[i + 2] == '-' && s[i + 3] == '-') {
                state = ESCAPED;
                i += 2;
                continue;
            }
            if (s[i + 1] == '/' && is_script_name(s, i + 2, end)) {
                return tag_end(s, i + 2, end);
            }
        }
        else if (c == '-' && i + 2 < end && s[i + 1] == '-' && s[i + 2] == '>') {
            state = DATA;
            i += 3;
            continue;
        }
        else if (c == '<' && i + 1 < end) {
            int closing = s[i + 1] == '/';
            if (is_script_name(s, i + 1 + closing, end)) {
                if (state == ESCAPED && closing) {
                    return tag_end(s, i + 2, end);
                }
                if (state == ESCAPED || closing) {
                    /* Resume after the space, "/" or ">" that ends the name. */
                    state = state == ESCAPED ? DOUBLE_ESCAPED : ESCAPED;
                    i += 1 + closing + 7;
                    continue;
                }
            }
        }
        i++;
    }
    return -1;
}

/*
 * Read the tag that starts at s[p] ("<" then a letter, or "</" then a
 * letter). Return the index after it, after the whole element for a raw
 * text or script element, or -1 when the Python scanner must read it.
 */
static Py_ssize_t
tag_or_element(bytes_ptr s, Py_ssize_t p, Py_ssize_t end)
{
    int closing = s[p + 1] == '/';
    Py_ssize_t name_start = p + 1 + closing;
    Py_ssize_t i = name_start;

    while (i < end && tag_class[s[i]] != C_SPACE && tag_class[s[i]] != C_SLASH
           && tag_class[s[i]] != C_GT) {
        i++;
    }
    if (i >= end) {
        return -1;
    }

    const char *name = NULL;
    int kind = E_ORDINARY;
    if (!closing) {
        kind = element_kind(s + name_start, i - name_start, &name);
    }
    if (kind == E_HANDOFF) {
        return -1;
    }
    Py_ssize_t after = tag_end(s, i, end);
    if (after < 0 || kind == E_ORDINARY) {
        return after;
    }
    if (kind == E_SCRIPT) {
        return script_end(s, after, end);
    }
    return element_end(s, after, end, name);
}

/*
 * Return whether the comment whose "<!--" is at s[p] may be a placeholder:
 * ASCII spaces, an optional "/", then "personalize" in any case. Undecided
 * at `end` counts as a yes, so the Python scanner decides.
 */
static int
may_be_placeholder(bytes_ptr s, Py_ssize_t p, Py_ssize_t end)
{
    static const char keyword[] = "personalize";
    Py_ssize_t i = p + 4;

    while (i < end && is_space(s[i])) {
        i++;
    }
    if (i < end && s[i] == '/') {
        i++;
    }
    for (Py_ssize_t k = 0; keyword[k] != '\0'; k++, i++) {
        if (i >= end) {
            return 1;
        }
        if ((s[i] | 0x20) != (unsigned char)keyword[k]) {
            return 0;
        }
    }
    return 1;
}

/*
 * Return the index after the comment whose "<!--" is at s[p], or -1 when it
 * does not end before `end`. "<!-->" and "<!--->" are whole comments, and
 * any other comment ends at the first "-->" or "--!>".
 */
static Py_ssize_t
comment_end(bytes_ptr s, Py_ssize_t p, Py_ssize_t end)
{
    Py_ssize_t i = p + 4;

    if (i < end && s[i] == '>') {
        return i + 1;
    }
    if (i + 1 < end && s[i] == '-' && s[i + 1] == '>') {
        return i + 2;
    }
    while (i + 2 < end) {
        bytes_ptr dash = memchr(s + i, '-', (size_t)(end - i - 2));
        if (dash == NULL) {
            return -1;
        }
        i = dash - s;
        if (s[i + 1] == '-') {
            if (s[i + 2] == '>') {
                return i + 3;
            }
            if (s[i + 2] == '!' && i + 3 < end && s[i + 3] == '>') {
                return i + 4;
            }
        }
        i++;
    }
    return -1;
}

/* Return the index after the ">" that ends a bogus comment, or -1. */
static Py_ssize_t
bogus_end(bytes_ptr s, Py_ssize_t i, Py_ssize_t end)
{
    bytes_ptr gt = memchr(s + i, '>', (size_t)(end - i));
    return gt == NULL ? -1 : gt - s + 1;
}

/* Read the markup that starts with the "<" at s[p], or return -1 to hand
   it over to the Python scanner. */
static Py_ssize_t
construct_end(bytes_ptr s, Py_ssize_t p, Py_ssize_t end)
{
    if (p + 2 >= end) {
        return -1;
    }
    unsigned char second = s[p + 1];

    if (is_alpha(second) || (second == '/' && is_alpha(s[p + 2]))) {
        return tag_or_element(s, p, end);
    }
    if (second == '/') {
        return bogus_end(s, p + 2, end);  /* also "</>", which emits nothing */
    }
    if (second == '?') {
        return bogus_end(s, p + 1, end);
    }
    if (second != '!') {
        return p + 1;  /* a "<" that starts no markup is text */
    }
    if (p + 3 >= end) {
        return -1;
    }
    if (s[p + 2] != '-' || s[p + 3] != '-') {
        return bogus_end(s, p + 2, end);  /* DOCTYPE and bogus comments */
    }
    if (may_be_placeholder(s, p, end)) {
        return -1;
    }
    return comment_end(s, p, end);
}

static Py_ssize_t
markup_run_impl(bytes_ptr s, Py_ssize_t pos, Py_ssize_t end)
{
    while (pos < end) {
        bytes_ptr lt = memchr(s + pos, '<', (size_t)(end - pos));
        if (lt == NULL) {
            return end;
        }
        Py_ssize_t p = lt - s;
        Py_ssize_t next = construct_end(s, p, end);
        if (next < 0) {
            return p;
        }
        pos = next;
    }
    return end;
}

PyDoc_STRVAR(markup_run_doc,
"markup_run(buf, pos, endpos, /)\n--\n\n"
"Consume HTML content from buf[pos] and return where the scan stopped.\n\n"
"The result is endpos, or the index of a \"<\" whose construct the Python\n"
"scanner must read: a possible placeholder comment, a plaintext, svg or\n"
"math start tag, or a token that does not end before endpos. Every byte\n"
"before it is in the data state, with no foreign content open.");

static PyObject *
markup_run(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError,
                     "markup_run() takes 3 positional arguments (%zd given)",
                     nargs);
        return NULL;
    }
    if (!PyBytes_Check(args[0])) {
        PyErr_Format(PyExc_TypeError,
                     "markup_run() argument 1 must be bytes, not %.100s",
                     Py_TYPE(args[0])->tp_name);
        return NULL;
    }
    Py_ssize_t pos = PyLong_AsSsize_t(args[1]);
    if (pos == -1 && PyErr_Occurred()) {
        return NULL;
    }
    Py_ssize_t endpos = PyLong_AsSsize_t(args[2]);
    if (endpos == -1 && PyErr_Occurred()) {
        return NULL;
    }
    Py_ssize_t size = PyBytes_GET_SIZE(args[0]);
    if (pos < 0 || endpos < pos || endpos > size) {
        PyErr_Format(PyExc_ValueError,
                     "markup_run() needs 0 <= pos <= endpos <= len(buf), "
                     "got pos=%zd, endpos=%zd, len(buf)=%zd",
                     pos, endpos, size);
        return NULL;
    }
    bytes_ptr s = (bytes_ptr)PyBytes_AS_STRING(args[0]);
    return PyLong_FromSsize_t(markup_run_impl(s, pos, endpos));
}

static PyMethodDef speedups_methods[] = {
    {"markup_run", (PyCFunction)(void (*)(void))markup_run, METH_FASTCALL,
     markup_run_doc},
    {NULL, NULL, 0, NULL},
};

/* The module keeps no state, so every interpreter may share it, and it
   needs no GIL. */
static PyModuleDef_Slot speedups_slots[] = {
#if PY_VERSION_HEX >= 0x030C0000
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#if PY_VERSION_HEX >= 0x030D0000
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "edge_personalize._speedups",
    .m_doc = "Compiled fast path of edge_personalize.rewriting.",
    .m_size = 0,
    .m_methods = speedups_methods,
    .m_slots = speedups_slots,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModuleDef_Init(&speedups_module);
}
