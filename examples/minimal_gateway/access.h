/**
 * @file access.h
 * @brief Conditions on a request: the file a URL-path maps to under
 *        DocumentRoot (what <Directory> and <Files> match, and
 *        %{REQUEST_FILENAME}), the expression variables of <If> and
 *        `Require expr`, and the Require check.
 */
#ifndef GW_ACCESS_H
#define GW_ACCESS_H

#include <fcgiclient/fcgiclient.h>

#include "config.h"
#include "http.h"

/** Where a URL-path lands in the filesystem, as Apache's directory walk
 *  finds it: DocumentRoot + the path up to the first component that is a
 *  file or does not exist (the rest is path info), or, for a directory,
 *  its first DirectoryIndex file that exists. */
struct gw_storage {
    char filename[4096]; /**< NUL-terminated; "" without DocumentRoot */
    size_t len;
    enum fcgic_env_file_type type;
    size_t dir_len; /**< filename[0..dir_len) is the directory <Directory> matches */
    size_t base;    /**< filename + base is the base name <Files> matches ("" for a directory) */
    /* what the walk stat(2)ed, for gw_storage_stat(): every component in
     * filename(root, walked); past walked only a DirectoryIndex file found
     * in the directory at walked (then len > walked) */
    size_t root, walked;
};

/**
 * Resolve a decoded URL-path (dot segments are removed; above the root
 * stays at the root). Calls stat(2): DocumentRoot is expected on a local
 * disk. `index`: DirectoryIndex names (may be 0).
 */
void gw_storage_resolve(const struct gw_server *srv, const char *const *index, size_t n_index, const char *dpath,
                        size_t dlen, struct gw_storage *out);

/**
 * The stat callback of the environment builder (struct fcgic_env_map_config):
 * paths the last gw_storage_resolve() of this thread stat(2)ed, while it is
 * in use (gw_storage_in_use()), are answered from it, so a SetHandler
 * request walks the filesystem once, as in Apache; anything else is
 * fcgic_env_stat_posix().
 */
int gw_storage_stat(void *ud, const char *path, size_t len, enum fcgic_env_file_type *type);

/** Let gw_storage_stat() answer from s (NULL: from nothing) on this thread;
 *  s must stay unchanged until the next call. */
void gw_storage_in_use(const struct gw_storage *s);

/** The request as ap_expr sees it, for <If> and `Require expr`. */
struct gw_reqexpr {
    const struct gw_http_request *req;
    const struct gw_server *srv;
    const char *uri; /**< decoded path (Apache's r->uri) */
    size_t uri_len;
    const char *filename; /**< REQUEST_FILENAME */
    size_t filename_len;
};

/** Bind q to ctx (fcgic_expr_ctx_reset): variables, headers, file tests
 *  with fcgic_expr_file_test_posix(). q must outlive the evaluations. */
void gw_reqexpr_bind(struct gw_reqexpr *q, struct fcgic_expr_ctx *ctx);

/**
 * Apache's authorization over a merged Require tree (NULL: granted).
 * @return 1 granted, 0 denied (403), or a negative FCGIC_E_* from an
 *         expression (500).
 */
int gw_access_check(const struct gw_require *r, struct fcgic_expr_ctx *ctx);

#endif /* GW_ACCESS_H */
