#ifndef STK_VERSION_H
#define STK_VERSION_H

#ifndef STK_VERSION
#define STK_VERSION "0.1.0"
#endif

#endif
