namespace Ori.Sockets;

/// <summary>Thrown when a message built in code fails its validation (for example before it is emitted).</summary>
public sealed class SocketValidationException : Exception
{
    /// <summary>Creates the exception with the failures found.</summary>
    /// <param name="messageName">The name of the message that failed.</param>
    /// <param name="errors">The failures.</param>
    public SocketValidationException(string messageName, IReadOnlyList<SocketValidationError> errors)
        : base(BuildMessage(messageName, errors))
    {
        MessageName = messageName;
        Errors = errors;
    }

    /// <summary>Creates the exception with a message and no failures.</summary>
    public SocketValidationException()
        : this("unknown", [])
    {
    }

    /// <summary>Creates the exception with a message and no failures.</summary>
    /// <param name="message">The message.</param>
    public SocketValidationException(string message)
        : base(message)
    {
        MessageName = "unknown";
        Errors = [];
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public SocketValidationException(string message, Exception innerException)
        : base(message, innerException)
    {
        MessageName = "unknown";
        Errors = [];
    }

    /// <summary>The name of the message that failed validation.</summary>
    public string MessageName { get; }

    /// <summary>The failures, each with its JSON path.</summary>
    public IReadOnlyList<SocketValidationError> Errors { get; }

    private static string BuildMessage(string messageName, IReadOnlyList<SocketValidationError> errors)
    {
        var details = string.Join("; ", errors.Select(e => $"{e.Path}: {e.Message}"));
        return $"Message '{messageName}' is not valid: {details}";
    }
}
