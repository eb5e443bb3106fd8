//! The fixed catalogue the demo platform is generated from: names of clusters, models,
//! experiments, features and the rollout scenarios. Randomness (from the seed) fills in the rest.

pub const CLUSTERS: [(&str, &str, &str); 3] = [
    ("uae-prod", "me-central-1", "NVIDIA-H100-80GB-HBM3"),
    ("eu-prod", "eu-west-1", "NVIDIA-H100-80GB-HBM3"),
    ("us-prod", "us-east-1", "NVIDIA-A100-SXM4-80GB"),
];
pub const GPU_NODES_PER_CLUSTER: usize = 4;
pub const CPU_NODES_PER_CLUSTER: usize = 2;
pub const GPUS_PER_NODE: u32 = 8;
pub const SERVING_NAMESPACE: &str = "ml-serving";

pub const MODELS: [&str; 40] = [
    "fraud-detector",
    "churn-model",
    "recsys-ranker",
    "search-embedder",
    "pricing-model",
    "demand-forecast",
    "credit-scorer",
    "image-tagger",
    "speech-asr",
    "translation-ar-en",
    "sentiment-classifier",
    "ad-ctr-predictor",
    "eta-predictor",
    "anomaly-detector",
    "doc-ocr",
    "face-verify",
    "spam-filter",
    "intent-router",
    "next-basket",
    "price-elasticity",
    "claims-triage",
    "kyc-matcher",
    "route-optimizer",
    "supply-forecast",
    "ltv-predictor",
    "toxicity-filter",
    "query-rewriter",
    "product-embedder",
    "voice-activity",
    "summarizer-ar",
    "fx-risk",
    "credit-limit",
    "aml-screening",
    "catalog-dedupe",
    "size-recommender",
    "image-moderation",
    "lead-scoring",
    "ticket-router",
    "energy-forecast",
    "defect-detector",
];

/// (experiment, region its training data lives in, share of runs).
pub const EXPERIMENTS: [(&str, &str, u32); 12] = [
    ("fraud-detection", "me-central-1", 14),
    ("churn-prediction", "eu-west-1", 12),
    ("recommendations", "us-east-1", 12),
    ("semantic-search", "eu-west-1", 8),
    ("pricing", "me-central-1", 8),
    ("forecasting", "us-east-1", 8),
    ("credit-risk", "me-central-1", 8),
    ("vision", "us-east-1", 8),
    ("speech", "eu-west-1", 6),
    ("nlp-arabic", "me-central-1", 6),
    ("ads-ctr", "us-east-1", 6),
    ("logistics", "us-east-1", 4),
];

/// Served models: (model, cluster, replicas, idle). Idle ones hold GPUs that do no work.
pub const SERVED: [(&str, &str, u32, bool); 16] = [
    ("fraud-detector", "uae-prod", 10, false),
    ("pricing-model", "uae-prod", 3, false),
    ("credit-scorer", "uae-prod", 4, false),
    ("translation-ar-en", "uae-prod", 3, false),
    ("anomaly-detector", "uae-prod", 2, true),
    ("kyc-matcher", "uae-prod", 2, false),
    ("churn-model", "eu-prod", 6, false),
    ("search-embedder", "eu-prod", 4, false),
    ("speech-asr", "eu-prod", 4, false),
    ("sentiment-classifier", "eu-prod", 2, false),
    ("doc-ocr", "eu-prod", 2, true),
    ("recsys-ranker", "us-prod", 8, false),
    ("demand-forecast", "us-prod", 3, false),
    ("image-tagger", "us-prod", 4, false),
    ("ad-ctr-predictor", "us-prod", 6, false),
    ("eta-predictor", "us-prod", 2, false),
];

/// Versions of the models that the rollout scenarios need (champion is the one before last).
pub const PINNED_VERSIONS: [(&str, u32); 6] = [
    ("fraud-detector", 7),
    ("churn-model", 4),
    ("recsys-ranker", 12),
    ("search-embedder", 3),
    ("pricing-model", 5),
    ("credit-scorer", 9),
];

/// (model, version of the served champion, feature, mean, sd, drift in sd per hour).
pub const FEATURES: [(&str, &str, f64, f64, f64); 10] = [
    ("churn-model", "tenure_months", 30.0, 12.0, 0.0),
    ("churn-model", "monthly_charges", 70.0, 20.0, 1.6),
    ("churn-model", "support_calls", 2.0, 1.2, 0.0),
    ("churn-model", "data_usage_gb", 14.0, 6.0, 0.25),
    ("fraud-detector", "amount_log", 4.0, 1.0, 0.0),
    ("fraud-detector", "merchant_risk", 0.3, 0.12, 0.0),
    ("fraud-detector", "hour_of_day", 13.0, 5.0, 0.2),
    ("recsys-ranker", "dwell_time_s", 45.0, 15.0, 0.0),
    ("recsys-ranker", "ctr_7d", 0.04, 0.01, 0.0),
    ("recsys-ranker", "session_len", 12.0, 4.0, 0.0),
];

pub const USERS: [&str; 8] = [
    "amira.s", "dana.k", "omar.h", "li.wei", "sofia.r", "jonas.b", "priya.n", "mateo.g",
];

pub const ADJECTIVES: [&str; 16] = [
    "amber", "bold", "calm", "dapper", "eager", "fleet", "gentle", "honest", "ivory", "jolly",
    "keen", "lucid", "mellow", "nimble", "placid", "rustic",
];
pub const ANIMALS: [&str; 16] = [
    "ant", "bass", "crow", "doe", "eel", "finch", "gnu", "hare", "ibis", "jay", "koi", "lynx",
    "moth", "newt", "owl", "pike",
];
