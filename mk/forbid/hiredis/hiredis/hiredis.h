/* Layering: only src/redis may include hiredis (README, Architecture) */
#error "only src/redis may include hiredis (README, Architecture)"
