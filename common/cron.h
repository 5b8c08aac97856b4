/*
 * Cron schedules as Kubernetes CronJob accepts them: five fields
 * (minute hour day-of-month month day-of-week) with *, ranges, steps, lists,
 * month and weekday names, or one of @yearly @annually @monthly @weekly @daily
 * @midnight @hourly.
 */
#ifndef PGW_COMMON_CRON_H
#define PGW_COMMON_CRON_H

/* Returns 0 when valid, or -1 with a message in *why (malloc'd; caller frees). */
int pgw_cron_validate(const char *spec, char **why);

#endif
