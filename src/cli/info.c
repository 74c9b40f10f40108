/* info.c — `sockit info [URL]`: host and socket facts (placeholder until
 * the full report lands). */
#include "cli/options.h"

int cmd_info(cli_opts *o)
{
    cli_error("info is not implemented yet");
    return 1;
}
