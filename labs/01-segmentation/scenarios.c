#include <kit/kit.h>
