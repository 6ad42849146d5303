/* Layering: this layer may not include <uv.h> (README, Architecture) */
#error "this layer may not include <uv.h> (README, Architecture)"
