/* The agent's log sink (log.c): stderr or syslog, never blocking the event loop. */
#ifndef FLUSSONIC_LOG_H
#define FLUSSONIC_LOG_H

/* level 0..3 = debug, info, warn, error */
void flussonic_log(int level, const char *line);
/* From now on send lines to syslog (daemon facility, /dev/log) under this name. */
void flussonic_log_to_syslog(const char *ident);

#endif
