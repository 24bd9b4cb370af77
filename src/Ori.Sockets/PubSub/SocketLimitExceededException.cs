namespace Ori.Sockets;

/// <summary>
/// A socket asked for more of a bounded resource than it may have (more rooms than <c>MaxRoomsPerSocket</c>, say).
/// Thrown into a handler, it is answered <c>rate_limited</c> with its message, not <c>internal_error</c>: the client
/// caused it, and the socket keeps what it had.
/// </summary>
public sealed class SocketLimitExceededException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SocketLimitExceededException()
        : this("A per-socket limit was reached.")
    {
    }

    /// <summary>Creates the exception with the text the client is told.</summary>
    /// <param name="message">Text for the client: which limit, and its value. Never secrets.</param>
    public SocketLimitExceededException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with the text the client is told and a cause.</summary>
    /// <param name="message">Text for the client.</param>
    /// <param name="innerException">The cause.</param>
    public SocketLimitExceededException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal static SocketLimitExceededException Rooms(int limit) =>
        new($"This socket is in {limit} rooms, the most it may be in; leave one first.");
}
