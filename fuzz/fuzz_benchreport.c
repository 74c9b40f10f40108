/* fuzz_benchreport.c — libFuzzer target for what `sockit bench merge` reads:
 * any input is either refused with a reason or loaded as a run whose
 * histogram counts add up; a loaded run merges into a total and is
 * written back as JSON and HTML (to /dev/null) without crashing or leaking. */
#include "cli/json.c"
#include "cli/histogram.c"
#include "cli/options.c"
#include "cli/bench_report.c"
#include "cli/bench_timeline.c"
#include "cli/bench_html.c"
#include "cli/bench_merge.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static histogram tmp;
    json_doc doc;
    char err[128];
    if (json_parse((const char *)data, size, &doc, err, sizeof err) < 0)
        return 0;
    run_in run = {0};
    const char *why = load_run(&doc, &run, &tmp);
    json_free(&doc);
    if (!why) {
        uint64_t sum = 0;
        for (size_t i = 0; i < HIST_BUCKETS; i++)
            sum += run.st.hist.counts[i];
        if (sum != run.st.hist.total)
            abort();
        run_in total = {0};
        hist_reset(&total.st.hist);
        hist_reset(&total.st.hs_hist);
        hist_reset(&total.st.iter_hist);
        add_run(&total, &run, run.st.tl.origin_unix);
        FILE *devnull = fopen("/dev/null", "w");
        bench_print(devnull, &total.cfg, &total.st);
        json_body(devnull, &total.cfg, &total.st);
        page(devnull, &total.cfg, &total.st, "");
        fclose(devnull);
        bench_tl_free(&total.st.tl);
    }
    free(run.target);
    bench_tl_free(&run.st.tl);
    return 0;
}
