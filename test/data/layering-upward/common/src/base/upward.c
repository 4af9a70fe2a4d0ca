/* A fixture for check_sources: the lowest layer includes from the highest,
 * which the check must refuse. Never compiled. */
#include "kyborg/base/upward.h"
#include "kyborg/node/node_plan.h"
