"""Domain services: keyword-only functions, the session passed in, `restaurant_id` required wherever
data belongs to a restaurant, so a missing tenant filter is visible at every call site."""
