#pragma once
// The cpp-httplib side of the admin client (runtime/cli/admin_client.h), for the two files
// that talk HTTP themselves: admin_client.cc and deploy_client.cc, whose upload streams its
// body. Kept out of admin_client.h so that the commands, which only send AdminRequests, do
// not parse <httplib.h> (most of a file's compile time).

#include <httplib.h>

#include <memory>
#include <string>

#include "runtime/base/result.h"
#include "runtime/cli/admin_client.h"

namespace gust::cli {

// A client for the target, without the token; a missing socket is an error that says how
// to start a host or name one.
Result<std::unique_ptr<httplib::Client>> adminClient(const AdminTarget& target);

// The reason a request got no usable answer, shared by every admin call.
Error unreachable(const std::string& url, httplib::Error error);

// The status, body and headers of cpp-httplib's response.
AdminResponse adminResponse(const httplib::Response& response);

}  // namespace gust::cli
