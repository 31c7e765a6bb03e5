// The shapes the page reads from the API (docs/api.md): only the fields it uses.

export interface TokenUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
}

export interface Log {
  id: string;
  parent_request_id?: string;
  provider?: string;
  model?: string;
  status?: string;
  object?: string;
  timestamp?: string;
  created_at?: string;
  latency?: number;
  cost?: number;
  fallback_index?: number;
  number_of_retries?: number;
  selected_key_id?: string;
  selected_key_name?: string;
  virtual_key_id?: string;
  virtual_key_name?: string;
  token_usage?: TokenUsage;
  error_details?: unknown;
  metadata?: Record<string, unknown>;
  highlights?: string[];
  [field: string]: unknown;
}

export interface LogPage {
  logs: Log[];
  total: number;
  offset: number;
  limit: number;
  next_cursor: string | null;
  has_logs: boolean;
}

export interface SearchStats {
  total_requests: number;
  success_rate: number;
  average_latency: number;
  total_tokens: number;
  total_cost: number;
}

export interface StatsAnswer extends SearchStats {
  has_previous_period?: boolean;
  previous?: SearchStats;
}

export interface Named {
  id: string;
  name: string;
  count: number;
}

export type FilterData = Record<string, unknown> & {
  counts?: Record<string, Record<string, number>>;
};

export interface Bucket {
  timestamp: string;
  [field: string]: unknown;
}

export interface Histogram {
  buckets: Bucket[];
  bucket_size_seconds: number;
}

export interface SessionPage {
  logs: Log[];
  count: number;
}

export interface SimilarAnswer {
  logs: Log[];
  count: number;
}
