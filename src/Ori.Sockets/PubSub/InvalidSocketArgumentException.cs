namespace Ori.Sockets.PubSub;

/// <summary>
/// An argument of the framework (a topic, a socket id) that is not valid, usually because it was built from client data.
/// A handler that lets it escape is answered <c>validation_failed</c> with the reason, not <c>internal_error</c>, and it is
/// not logged as a server failure.
/// </summary>
internal sealed class InvalidSocketArgumentException(string reason, string parameterName) : ArgumentException(reason, parameterName)
{
    /// <summary>Why the argument is not valid, for the client (without the parameter's name).</summary>
    public string Reason { get; } = reason;
}
