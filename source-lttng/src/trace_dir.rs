//! LTTng trace directories (filled by the trace-directory work).
