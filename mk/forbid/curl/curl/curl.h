/* Layering: only src/engine may include <curl/curl.h> (README, Architecture) */
#error "only src/engine may include <curl/curl.h> (README, Architecture)"
