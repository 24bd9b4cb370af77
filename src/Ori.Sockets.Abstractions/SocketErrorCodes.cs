namespace Ori.Sockets;

/// <summary>The <c>error</c> codes of an error reply (protocol section 3).</summary>
public static class SocketErrorCodes
{
    /// <summary>Not JSON, not an object, or no valid <c>type</c>.</summary>
    public const string BadRequest = "bad_request";

    /// <summary>No route has the envelope's <c>type</c>.</summary>
    public const string UnknownType = "unknown_type";

    /// <summary>The <c>data</c> failed validation; <c>details</c> lists each failure with its path.</summary>
    public const string ValidationFailed = "validation_failed";

    /// <summary>A guard or a room rule said no.</summary>
    public const string Forbidden = "forbidden";

    /// <summary>Too many messages.</summary>
    public const string RateLimited = "rate_limited";

    /// <summary>The handler threw; the exception is logged on the server, never sent.</summary>
    public const string InternalError = "internal_error";

    /// <summary>
    /// A service the server depends on (Redis, say) failed or did not answer in time; the message says what did and did
    /// not happen. Worth trying again later.
    /// </summary>
    public const string Unavailable = "unavailable";
}
