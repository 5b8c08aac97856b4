/*
 * kubectl's global flags for the plugin (see plugin.h).
 *
 * kubectl hands a plugin every word after its name and does not parse them,
 * so `kubectl pgwarden status main -n shop` arrives as "status main -n shop".
 * The flags a kubectl user types anywhere (-n, --context, --kubeconfig, -o)
 * are taken out here, before a command parses its own; words after "--"
 * belong to the program a command runs (psql) and are never looked at.
 */
#include <stddef.h>
#include <string.h>

#include "cli/plugin.h"

/* The value of flag `name` (short `s`, may be NULL) at argv[*i]: "--name V", "--name=V", "-s V", "-sV" or "-s=V".
 * Returns 1 and advances *i past it, 0 when argv[*i] is another word, -1 when the value is missing. */
static int take(int argc, char **argv, int *i, const char *name, const char *s, const char **value)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, "--", 2) == 0 && strncmp(a + 2, name, n) == 0) {
        if (a[2 + n] == '=') {
            *value = a + 3 + n;
            return 1;
        }
        if (a[2 + n] != '\0')
            return 0;
    } else if (s != NULL && a[0] == '-' && a[1] == s[0] && a[1] != '-') {
        if (a[2] != '\0') {
            *value = a + (a[2] == '=' ? 3 : 2); /* -ojson, or -o=json as pflag allows */
            return 1;
        }
    } else {
        return 0;
    }
    if (*i + 1 >= argc)
        return -1;
    *value = argv[++*i];
    return 1;
}

int pgw_plugin_take_globals(int *argc, char **argv, struct pgw_plugin_globals *g, const char **err)
{
    static const struct {
        const char *name, *s;
        size_t offset;
    } flags[] = {
        {"kubeconfig", NULL, offsetof(struct pgw_plugin_globals, kubeconfig)},
        {"context", NULL, offsetof(struct pgw_plugin_globals, context)},
        {"namespace", "n", offsetof(struct pgw_plugin_globals, namespace_)},
        {"output", "o", offsetof(struct pgw_plugin_globals, output)},
    };
    memset(g, 0, sizeof(*g));
    *err = NULL;
    int out = 1, i = 1;
    for (; i < *argc; ++i) {
        if (strcmp(argv[i], "--") == 0)
            break;
        int taken = 0;
        for (size_t f = 0; f != sizeof(flags) / sizeof(flags[0]) && !taken; ++f) {
            const char *value = NULL;
            int rc = take(*argc, argv, &i, flags[f].name, flags[f].s, &value);
            if (rc < 0) {
                *err = "a flag needs a value (-n, --namespace, --context, --kubeconfig, -o)";
                return -1;
            }
            if (rc > 0) {
                *(const char **)((char *)g + flags[f].offset) = value;
                taken = 1;
            }
        }
        if (!taken)
            argv[out++] = argv[i];
    }
    for (; i < *argc; ++i)
        argv[out++] = argv[i];
    *argc = out;
    argv[out] = NULL;
    if (g->output != NULL && strcmp(g->output, "json") != 0) {
        *err = "-o: only json is supported (the default is text)";
        return -1;
    }
    return 0;
}
