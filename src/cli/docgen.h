/* docgen.h — documents generated from the option table (options.h), so that
 * they say exactly what --help says: the man page and the bash completion. */
#ifndef SOCKIT_CLI_DOCGEN_H
#define SOCKIT_CLI_DOCGEN_H

#include <stdio.h>

#include "cli/options.h"

/* manpage.c: writes sockit(1) in troff (man macros) to f (`sockit --man`). */
void cli_write_man(FILE *f);

/* completion.c: writes the bash completion script to f (`sockit
 * --completion bash`): subcommands, services, options, framing modes and
 * the values of options such as --io. */
void cli_write_bash_completion(FILE *f);

#endif
