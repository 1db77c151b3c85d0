/* kprintf and friends: one formatter writing through a sink. */
#include <kit/kit.h>
#include "core.h"

struct sink {
    void (*put)(struct sink *s, char c);
    char *buf;
    size_t size, len;
};

static void put_console(struct sink *s, char c)
{
    (void)s;
    serial_putc(c);
    console_putc(c);
}

static void put_buffer(struct sink *s, char c)
{
    if (s->len + 1 < s->size)
        s->buf[s->len] = c;
    s->len++;
}

static void emit_number(struct sink *s, u64 v, int base, bool upper, bool neg, int width, char pad)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v);
    int len = n + (neg ? 1 : 0);
    if (neg && pad == '0')
        s->put(s, '-');
    for (; width > len; width--)
        s->put(s, pad);
    if (neg && pad != '0')
        s->put(s, '-');
    while (n)
        s->put(s, tmp[--n]);
}

static void format(struct sink *s, const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            s->put(s, *fmt);
            continue;
        }
        fmt++;
        char pad = ' ';
        int width = 0, longs = 0;
        bool left = false;
        if (*fmt == '-') {
            left = true;
            fmt++;
        }
        if (*fmt == '0') {
            pad = '0';
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l') {
            longs++;
            fmt++;
        }
        if (*fmt == 'z') {
            longs = 1;
            fmt++;
        }
        u64 v;
        switch (*fmt) {
        case 'd':
        case 'i': {
            i64 x = longs ? va_arg(ap, i64) : va_arg(ap, int);
            emit_number(s, x < 0 ? -(u64)x : (u64)x, 10, false, x < 0, width, pad);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
            v = longs ? va_arg(ap, u64) : va_arg(ap, unsigned int);
            emit_number(s, v, *fmt == 'u' ? 10 : 16, *fmt == 'X', false, width, pad);
            break;
        case 'p':
            s->put(s, '0');
            s->put(s, 'x');
            emit_number(s, (u64)(uintptr_t)va_arg(ap, void *), 16, false, false, 16, '0');
            break;
        case 's': {
            const char *str = va_arg(ap, const char *);
            if (!str)
                str = "(null)";
            int len = (int)strlen(str);
            if (!left)
                for (; width > len; width--)
                    s->put(s, ' ');
            while (*str)
                s->put(s, *str++);
            if (left)
                for (; width > len; width--)
                    s->put(s, ' ');
            break;
        }
        case 'c':
            s->put(s, (char)va_arg(ap, int));
            break;
        case '%':
            s->put(s, '%');
            break;
        case '\0':
            return;
        default:
            s->put(s, '%');
            s->put(s, *fmt);
        }
    }
}

void kvprintf(const char *fmt, va_list ap)
{
    struct sink s = {.put = put_console};
    format(&s, fmt, ap);
}

void kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
}

void kdiag(const char *fmt, ...)
{
    va_list ap;
    kprintf(KDIAG_MARK);
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
    kprintf("\n");
}

int ksnprintf(char *buf, size_t size, const char *fmt, ...)
{
    struct sink s = {.put = put_buffer, .buf = buf, .size = size};
    va_list ap;
    va_start(ap, fmt);
    format(&s, fmt, ap);
    va_end(ap);
    if (size)
        buf[s.len < size ? s.len : size - 1] = '\0';
    return (int)s.len;
}
