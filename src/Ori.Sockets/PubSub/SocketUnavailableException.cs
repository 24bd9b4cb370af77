namespace Ori.Sockets;

/// <summary>
/// A service the provider depends on (Redis, say) failed or did not answer in time. Its message says what did and did
/// not happen (a publish that reached this instance's sockets only, a subscription that was undone). Thrown into a
/// handler, it is answered <c>unavailable</c> with that message, not <c>internal_error</c>.
/// </summary>
public class SocketUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SocketUnavailableException()
        : this("A service the server depends on is unavailable.")
    {
    }

    /// <summary>Creates the exception with the text the client is told.</summary>
    /// <param name="message">What did and did not happen; never secrets (it reaches the client).</param>
    public SocketUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with the text the client is told and a cause.</summary>
    /// <param name="message">What did and did not happen.</param>
    /// <param name="innerException">The dependency's error (logged, never sent).</param>
    public SocketUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
