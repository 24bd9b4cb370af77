using Microsoft.CodeAnalysis;

namespace Ori.Sockets.Generators.Diagnostics;

/// <summary>
/// Every diagnostic of the generator. IDs are assigned by hand and never reused; each has a section
/// in docs/diagnostics.md and a line in AnalyzerReleases.*.md.
/// </summary>
internal static class DiagnosticDescriptors
{
    private const string Category = "Ori.Sockets";
    private const string HelpBase = "https://github.com/ori-sockets/ori-sockets/blob/main/docs/diagnostics.md#";

    public static readonly DiagnosticDescriptor DuplicateRoute = Error(
        "ORI001", "Route declared twice",
        "Route '{0}' is declared twice: on {1} and {2}. Route names must be unique in a compilation.");

    public static readonly DiagnosticDescriptor InvalidRouteName = Error(
        "ORI002", "Invalid or reserved route name",
        "'{0}' cannot be a route name: {1}");

    public static readonly DiagnosticDescriptor UnusableParameter = Error(
        "ORI003", "Handler parameter cannot be bound",
        "Parameter '{0}' of {1} cannot be bound: {2}");

    public static readonly DiagnosticDescriptor GenericHandler = Error(
        "ORI004", "Handler is generic",
        "{0} is generic; a route handler cannot have type parameters");

    public static readonly DiagnosticDescriptor UnsupportedReturn = Error(
        "ORI005", "Unsupported handler return type",
        "{0} returns {1}; a handler returns void, Task, ValueTask, a serializable type T, Task<T> or ValueTask<T>");

    public static readonly DiagnosticDescriptor ContractMismatch = Error(
        "ORI006", "Route and contract disagree",
        "{0}: {1}");

    public static readonly DiagnosticDescriptor UnserializableMember = Error(
        "ORI007", "Member type cannot be serialized",
        "{0} cannot be serialized at {1}: {2}");

    public static readonly DiagnosticDescriptor InapplicableConstraint = Error(
        "ORI008", "Constraint cannot apply",
        "[{0}] cannot apply to {1}: {2}");

    public static readonly DiagnosticDescriptor InvalidPattern = Error(
        "ORI009", "Regular expression does not compile",
        "The pattern of [RegularExpression] on {0} does not compile: {1}");

    public static readonly DiagnosticDescriptor InvalidGuard = Error(
        "ORI010", "Guard type is not a guard",
        "{0} is used as a {1} but does not implement {2}");

    public static readonly DiagnosticDescriptor GuardStateMismatch = Error(
        "ORI011", "Handler expects a state its endpoint does not set",
        "{0} takes SocketContext<{1}>, but {2}");

    public static readonly DiagnosticDescriptor DuplicateMessageName = Error(
        "ORI012", "Message name declared twice",
        "Message name '{0}' is declared twice: on {1} and {2}");

    public static readonly DiagnosticDescriptor UnusableRouter = Error(
        "ORI013", "Router class cannot be used",
        "{0} cannot be a router: {1}");

    public static readonly DiagnosticDescriptor InvalidMessageName = Error(
        "ORI014", "Invalid or reserved message name",
        "'{0}' cannot be a message name: {1}");

    public static readonly DiagnosticDescriptor MessageNotPartial = Error(
        "ORI015", "Message type is not partial",
        "{0} has [SocketMessage] but is not partial; add 'partial' so that the generator can add its serializer and name");

    public static readonly DiagnosticDescriptor NotConstructible = Error(
        "ORI016", "Message type cannot be created",
        "{0} cannot be created when it is read: {1}");

    public static readonly DiagnosticDescriptor ConnectionGuardOutsideEndpoint = Error(
        "ORI017", "Connection guard outside an endpoint",
        "[ConnectionGuard] is on {0}, which is not a [SocketEndpoint] class; connection guards are declared on the endpoint that accepts the connections");

    public static readonly DiagnosticDescriptor EndpointNotPartial = Error(
        "ORI018", "Endpoint class is not partial",
        "{0} has [SocketEndpoint] but is not partial; add 'partial' so that the generator can implement ISocketEndpoint on it");

    public static readonly DiagnosticDescriptor UnusableEndpoint = Error(
        "ORI019", "Endpoint class cannot be created",
        "{0} cannot be a socket endpoint: {1}");

    public static readonly DiagnosticDescriptor NotARouter = Error(
        "ORI020", "Endpoint serves a class without routes",
        "{0} serves {1}, which has no [SocketRoute] method");

    public static readonly DiagnosticDescriptor ConflictingGuardStates = Error(
        "ORI021", "Connection guards set different states",
        "The connection guards of {0} set different states: {1} sets {2} and {3} sets {4}; keep one state type per endpoint");

    public static readonly DiagnosticDescriptor AsyncVoidHandler = Error(
        "ORI022", "Handler is async void",
        "{0} is async void: an exception it throws would end the process, and nobody could await its reply; return Task or ValueTask");

    public static readonly DiagnosticDescriptor DuplicateJsonName = Error(
        "ORI023", "Two members share a JSON name",
        "Two members of {0} are named '{1}' in JSON (at {2}); rename one with [JsonPropertyName] or ignore one with [JsonIgnore]");

    public static readonly DiagnosticDescriptor InvalidMessageType = Error(
        "ORI024", "Message type is not a concrete type",
        "{0} cannot be a message: a message is a concrete, non-generic class, record or struct");

    public static readonly DiagnosticDescriptor InvalidRateLimit = Error(
        "ORI025", "Rate limit cannot apply",
        "[RateLimit] on {0} cannot apply: {1}");

    public static readonly DiagnosticDescriptor ContradictoryAuthorization = Error(
        "ORI026", "Authorization attributes contradict each other",
        "{0}: {1}");

    public static readonly DiagnosticDescriptor InvalidRecoverableTopic = Error(
        "ORI027", "Recoverable topic cannot apply",
        "[RecoverableTopic(\"{0}\")] on {1} cannot apply: {2}");

    // NotConfigurable: each of these means the generator could not write correct code (a route would be missing
    // from its table, a message would have no serializer), so neither #pragma warning disable nor .editorconfig
    // severity may hide it.
    private static DiagnosticDescriptor Error(string id, string title, string message) =>
        new(id, title, message, Category, DiagnosticSeverity.Error, isEnabledByDefault: true, helpLinkUri: HelpBase + id.ToLowerInvariant(), customTags: WellKnownDiagnosticTags.NotConfigurable);
}
